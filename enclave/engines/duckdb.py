"""DuckDB engine: a read-only, sandboxed connection to the warehouse file.

Defence in depth (the gateway's front half already refuses all of this): the connection
is opened ``READ_ONLY`` with external access (files, network, ``read_csv``, ``COPY``,
``ATTACH``) disabled, extension auto-install/auto-load and community extensions disabled,
a memory limit and thread count from ``Settings``, statistics-driven expression rewriting
off (a plan must not depend on the data's min/max), and then the configuration is locked
so no statement can ``SET`` it back. Each query runs on its own cursor with a timer that
interrupts it after ``Settings.query_timeout_s``. Engine errors never pass their text on.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import duckdb

from enclave.engines.base import FAILED, time_limit, too_slow
from enclave.errors import QueryRejected
from enclave.settings import Settings

__all__ = ["DuckDBEngine", "sandbox_config"]


def sandbox_config(settings: Settings, *, read_only: bool = True) -> dict[str, Any]:
    """The DuckDB configuration every enclave connection is opened with."""
    config: dict[str, Any] = {
        "enable_external_access": False,
        "autoinstall_known_extensions": False,
        "autoload_known_extensions": False,
        "allow_community_extensions": False,
        "allow_unsigned_extensions": False,
        "memory_limit": settings.memory_limit,
        "threads": int(settings.threads),
        # No rewriting of expressions from the data's min/max statistics: a filter folded
        # away on one warehouse and kept on its neighbour gives two different plans, and a
        # planner error that depends on the statistics would depend on one person.
        "disabled_optimizers": "statistics_propagation",
        "lock_configuration": True,
    }
    if read_only:
        config["access_mode"] = "READ_ONLY"
    return config


class DuckDBEngine:
    """Runs the gateway's rewritten SQL on the warehouse, read-only and time-limited.

    >>> import tempfile, duckdb
    >>> from enclave.settings import Settings
    >>> d = Path(tempfile.mkdtemp())
    >>> duckdb.connect(str(d / "w.duckdb")).execute("CREATE TABLE t AS SELECT 1 AS x").close()
    >>> eng = DuckDBEngine(d / "w.duckdb", Settings(home=d))
    >>> eng.execute("SELECT x + 1 AS y FROM t")
    (('y',), [(2,)])
    >>> eng.close()
    """

    name = "duckdb"

    def __init__(self, path: Path, settings: Settings) -> None:
        self.path = Path(path)
        self.timeout_s = float(settings.query_timeout_s)
        try:
            self._conn = duckdb.connect(str(self.path), config=sandbox_config(settings))
        except duckdb.Error:
            raise QueryRejected(
                "The warehouse could not be opened read-only; ask the steward to check it."
            ) from None

    def execute(
        self, sql: str, timeout_s: float | None = None
    ) -> tuple[tuple[str, ...], list[tuple[Any, ...]]]:
        """``Engine.execute`` on DuckDB (a timer interrupts the cursor at the limit)."""
        limit = time_limit(self.timeout_s, timeout_s)
        cur = self._conn.cursor()
        timer = threading.Timer(limit, cur.interrupt)
        timer.daemon = True
        timer.start()
        try:
            rel = cur.execute(sql)
            rows = rel.fetchall()
            cols = tuple(d[0] for d in rel.description or ())
            return cols, rows
        except duckdb.InterruptException:
            raise too_slow(self.timeout_s) from None
        except (duckdb.Error, MemoryError, OverflowError, ValueError):
            raise QueryRejected(FAILED) from None
        finally:
            timer.cancel()
            cur.close()

    def execute_raw(self, sql: str) -> tuple[tuple[str, ...], list[tuple[Any, ...]]]:
        """The same sandboxed path, for benchmarks timing an exact query."""
        return self.execute(sql)

    def close(self) -> None:
        self._conn.close()
