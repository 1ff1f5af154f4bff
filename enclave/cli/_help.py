"""Help that reads like the commands: on/off flags show no ``<bool>`` value placeholder
(typer prints one for every option; a flag takes no value).

>>> install()
>>> import typer.core
>>> typer.core.TyperOption.display_type_rich.__name__
'_display_type'
"""

from __future__ import annotations

from typing import Any

__all__ = ["install"]


def install() -> None:
    """Patch typer's option type column once: nothing for flags, the type otherwise."""
    from typer.core import TyperOption

    original = TyperOption.display_type_rich
    if original.__name__ == "_display_type":
        return

    def _display_type(self: TyperOption, ctx: Any) -> str | None:
        return None if self.is_flag else original(self, ctx)

    TyperOption.display_type_rich = _display_type  # type: ignore[method-assign]
