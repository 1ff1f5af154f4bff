"""Engines behind one interface: DuckDB embedded by default, Spark for scale-out."""

from __future__ import annotations

from typing import Any, Protocol

__all__ = ["Engine"]


class Engine(Protocol):
    """Runs the gateway's rewritten, already-validated SQL read-only with limits."""

    name: str

    def execute(
        self, sql: str, timeout_s: float | None = None
    ) -> tuple[tuple[str, ...], list[tuple[Any, ...]]]:
        """Columns and rows of a query, within ``timeout_s`` (default: the engine's limit).

        Engine error text never reaches the caller."""
        ...

    def close(self) -> None: ...
