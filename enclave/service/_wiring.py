"""Small adapters between the service and the gateway: a lazy engine and a store view.

``LazyEngine`` opens the warehouse only when a query really has to run, so cached
releases, dry runs without ``auto`` bounds and steward actions never touch it.
``StoreView`` is the store the gateway sees: the metadata store plus the review queue
(``approved_for_review``, from ``store.reviews``), which the pipeline asks before running
a query above the project's review threshold.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from enclave.engines.base import Engine
    from enclave.settings import Settings

__all__ = ["LazyEngine", "StoreView"]


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


class StoreView:
    """The metadata store plus the service's review queue, as the gateway sees it."""

    def __init__(self, store: Any) -> None:
        self._store = store
        #: The release-cache key and SQL hash the gateway used for this request (one
        #: view per request), so the service can answer the same text from the cache.
        self.seen_key: str | None = None
        self.seen_hash: str | None = None

    def approved_for_review(self, project: str, cache_key: str) -> bool:
        return bool(self._store.reviews.approved(project, cache_key))

    def cached_release(self, project: str, cache_key: str) -> Any:
        self.seen_key = cache_key
        return self._store.cached_release(project, cache_key)

    def audit(self, record: Any) -> Any:
        if record.action == "query" and record.sql_hash:
            self.seen_hash = record.sql_hash
        return self._store.audit(record)

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        return getattr(self._store, name)
