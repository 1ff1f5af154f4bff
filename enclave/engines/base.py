"""Engines behind one interface: DuckDB embedded by default, Spark for scale-out."""

from __future__ import annotations

from typing import Any, Protocol

from enclave.errors import QueryRejected

__all__ = ["FAILED", "Engine", "time_limit", "too_slow"]

FAILED = (
    "The query could not be run; simplify it (fewer joins, groups or conditions) and try again."
)


class Engine(Protocol):
    """Runs the gateway's rewritten, already-validated SQL read-only with limits."""

    name: str

    def execute(
        self, sql: str, timeout_s: float | None = None
    ) -> tuple[tuple[str, ...], list[tuple[Any, ...]]]:
        """Columns and rows of a query, within ``timeout_s`` (default: the engine's limit).

        Errors and timeouts become a generic ``QueryRejected`` (``FAILED``, ``too_slow``):
        engine error text never reaches the caller."""
        ...

    def close(self) -> None: ...


def time_limit(configured_s: float, timeout_s: float | None) -> float:
    """The engine's limit, shortened to ``timeout_s`` (what is left of the request's deadline).

    >>> time_limit(30.0, None), time_limit(30.0, 5.0), time_limit(30.0, -1.0)
    (30.0, 5.0, 0.0)
    """
    return configured_s if timeout_s is None else max(0.0, min(configured_s, timeout_s))


def too_slow(configured_s: float) -> QueryRejected:
    """The refusal of a query that ran out of time; it names the configured limit only."""
    return QueryRejected(
        f"The query took longer than {configured_s:g} s; narrow the filters or group by fewer keys."
    )
