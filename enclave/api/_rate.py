"""Per-token rate limits of the HTTP API, shared by every worker process through one
small SQLite file.

A fixed window per token. Each worker counts locally and adds its hits to the shared
counter (one short write transaction with the store's helper) on the first request of a
window, every ``batch`` requests and at least every ``flush_s`` seconds; a decision uses
the shared count plus the hits not yet added. So the limit holds across workers to within
``batch`` requests per worker. The counters live in ``rate-limits.sqlite`` next to the
metadata store with ``synchronous=OFF``: losing one after a power cut only forgives a few
requests. Old windows are pruned now and then.

>>> window_of(125.0, 60)
2
"""

from __future__ import annotations

import sqlite3
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from enclave.errors import RateLimited
from enclave.store._db import Database, Tx, compile_sql
from enclave.store._sqlite import SQLiteDialect

__all__ = ["RateCounter", "RateLimit", "window_of"]

_DDL = """CREATE TABLE IF NOT EXISTS service_rate (
    token_id TEXT NOT NULL,
    win BIGINT NOT NULL,
    hits BIGINT NOT NULL,
    PRIMARY KEY (token_id, win))"""
_SQL = {
    "rate_hit": (
        "INSERT INTO service_rate (token_id, win, hits) VALUES (?, ?, ?)"
        " ON CONFLICT (token_id, win) DO UPDATE SET hits = service_rate.hits + excluded.hits"
        " RETURNING hits"
    ),
    "rate_prune": "DELETE FROM service_rate WHERE win < ?",
}


def window_of(now: float, window_s: int) -> int:
    return int(now // window_s)


@dataclass
class _CounterDialect(SQLiteDialect):
    def connect(self) -> sqlite3.Connection:
        conn = super().connect()
        conn.execute("PRAGMA synchronous = OFF")
        return conn


class RateCounter:
    """Requests per token per window, counted in ``path``."""

    def __init__(self, path: Path, *, batch: int = 16, flush_s: float = 0.2) -> None:
        dialect = _CounterDialect(path)
        self._db = Database(dialect)
        self._sql = {k: compile_sql(dialect, v) for k, v in _SQL.items()}
        self._db.transaction(lambda tx: tx.raw(_DDL))
        self._batch, self._flush_s = batch, flush_s
        self._lock = threading.Lock()
        #: (token, window) -> [shared count last seen, local hits not yet added, last flush]
        self._local: dict[tuple[str, int], list[float]] = {}

    def hit(self, token_id: str, *, now: float, window_s: int) -> int:
        """Count one request for ``token_id``; return the hits in the current window."""
        win = window_of(now, window_s)
        key = (token_id, win)
        with self._lock:
            state = self._local.get(key)
            if state is None:
                if len(self._local) > 10_000:
                    self._local = {k: v for k, v in self._local.items() if k[1] >= win}
                state = self._local[key] = [0, 0, -1.0]
            state[1] += 1
            due = state[2] < 0 or state[1] >= self._batch or now - state[2] >= self._flush_s
            if not due:
                return int(state[0] + state[1])
            pending, state[1], state[2] = int(state[1]), 0, now
        shared = self._add(token_id, win, pending)
        with self._lock:
            state[0] = max(state[0], shared)
            return int(state[0] + state[1])

    def _add(self, token_id: str, win: int, hits: int) -> int:
        def run(tx: Tx) -> int:
            mine = Tx(self._db.connection().cursor(), self._sql)
            row = mine.one("rate_hit", (token_id, win, hits))
            if win % 16 == 0:
                mine.execute("rate_prune", (win - 2,))
            return 0 if row is None else int(row[0])

        return self._db.transaction(run)

    def close(self) -> None:
        self._db.close()


class RateLimit:
    """At most ``per_minute`` requests per token per minute (None: unlimited), counted in
    ``path`` (opened on first use) so every worker shares the count."""

    def __init__(self, path: Path, per_minute: int | None) -> None:
        self.per_minute = per_minute
        self._path = path
        self._counter: RateCounter | None = None
        self._lock = threading.Lock()

    def check(self, token_id: str) -> None:
        """Count one request for ``token_id``; RateLimited over the limit."""
        limit = self.per_minute
        if not limit:
            return
        with self._lock:
            if self._counter is None:
                self._counter = RateCounter(self._path)
        if self._counter.hit(token_id, now=time.time(), window_s=60) > limit:
            raise RateLimited(
                f"This token made more than {limit} requests in a minute; wait a minute and "
                "retry, or ask the steward for a higher limit."
            )

    def close(self) -> None:
        if self._counter is not None:
            self._counter.close()
