"""Opened on first use: the engine and the metadata store the service hands the gateway.

``Lazy`` opens a resource once, on first use, under a lock, and closes it if it was
opened. ``LazyEngine`` is an engine over one: the warehouse is opened only when a query
really has to run, so cached releases, dry runs without ``auto`` bounds and steward
actions never touch it. The metadata store itself is the gateway's ``GatewayStore`` port
(ledger, release cache, review approvals, audit).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Generic, Protocol, TypeVar

if TYPE_CHECKING:
    from enclave.engines.base import Engine
    from enclave.settings import Settings

__all__ = ["Lazy", "LazyEngine"]


class _Closable(Protocol):
    def close(self) -> None: ...


T = TypeVar("T", bound=_Closable)


class Lazy(Generic[T]):
    """``open_()`` on first ``get``, once even when threads race; ``close`` closes what was
    opened (if anything), and a later ``get`` opens it again."""

    def __init__(self, open_: Callable[[], T]) -> None:
        self._open = open_
        self._value: T | None = None
        self._lock = threading.Lock()

    @property
    def opened(self) -> bool:
        return self._value is not None

    def get(self) -> T:
        if self._value is None:
            with self._lock:
                if self._value is None:
                    self._value = self._open()
        return self._value

    def close(self) -> None:
        with self._lock:
            if self._value is not None:
                self._value.close()
                self._value = None


class LazyEngine:
    """An engine that opens the real one (``settings.engine``) on first use."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._engine: Lazy[Engine] = Lazy(self._open)

    def _open(self) -> Engine:
        from enclave.service._context import open_engine

        return open_engine(self._settings)

    @property
    def name(self) -> str:
        return self._settings.engine

    @property
    def opened(self) -> bool:
        return self._engine.opened

    def get(self) -> Engine:
        return self._engine.get()

    def execute(
        self, sql: str, timeout_s: float | None = None
    ) -> tuple[tuple[str, ...], list[tuple[Any, ...]]]:
        return self.get().execute(sql, timeout_s=timeout_s)

    def __getattr__(self, name: str) -> Any:  # e.g. execute_raw for auto bounds
        if name.startswith("_"):
            raise AttributeError(name)
        return getattr(self.get(), name)

    def close(self) -> None:
        self._engine.close()
