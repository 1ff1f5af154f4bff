"""The lazy engine the service hands the gateway.

``LazyEngine`` opens the warehouse only when a query really has to run, so cached
releases, dry runs without ``auto`` bounds and steward actions never touch it.
The metadata store itself is the gateway's ``GatewayStore`` port (ledger, release cache,
review approvals, audit).
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from enclave.engines.base import Engine
    from enclave.settings import Settings

__all__ = ["LazyEngine"]


class LazyEngine:
    """An engine that opens the real one (``settings.engine``) on first use."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._engine: Engine | None = None
        self._lock = threading.Lock()

    @property
    def name(self) -> str:
        return self._settings.engine

    @property
    def opened(self) -> bool:
        return self._engine is not None

    def get(self) -> Engine:
        if self._engine is None:
            with self._lock:
                if self._engine is None:
                    from enclave.service._context import open_engine

                    self._engine = open_engine(self._settings)
        return self._engine

    def execute(
        self, sql: str, timeout_s: float | None = None
    ) -> tuple[tuple[str, ...], list[tuple[Any, ...]]]:
        return self.get().execute(sql, timeout_s=timeout_s)

    def __getattr__(self, name: str) -> Any:  # e.g. execute_raw for auto bounds
        if name.startswith("_"):
            raise AttributeError(name)
        return getattr(self.get(), name)

    def close(self) -> None:
        with self._lock:
            if self._engine is not None:
                self._engine.close()
                self._engine = None
