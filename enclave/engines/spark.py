"""Spark engine: the gateway's rewritten SQL, transpiled by sqlglot, run by pyspark.

The warehouse is the Parquet export (``enclave.engines.parquet``): each engine registers
one temporary view per canonical table, in a fresh ``newSession()`` of the process's
SparkSession, so its catalog holds those views and nothing else. Noise, budget and audit
stay in the gateway: this engine only returns exact bounded aggregates, like DuckDB's.

Sandbox, in layers: the front half's allow-list; ``_spark_sql.check_sandbox`` on the
DuckDB text and on the generated Spark text (one SELECT over canonical tables, no
commands, paths, catalog names, table functions or reflective functions); restrictive
Spark configuration (``_spark_session``); a per-query timeout that cancels the query's
job group; engine errors mapped to one generic message.
"""

from __future__ import annotations

import threading
import uuid
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from enclave.engines._spark_session import SESSION_CONF, shared_session
from enclave.engines._spark_sql import to_spark
from enclave.engines.base import FAILED, time_limit, too_slow
from enclave.engines.parquet import read_manifest, table_path
from enclave.errors import QueryRejected, UserError
from enclave.schema import TABLES
from enclave.settings import Settings

__all__ = ["SparkEngine"]


def _check_fresh(settings: Settings, manifest: dict[str, Any]) -> None:
    """Refuse an export older than the warehouse it was taken from (when both are here)."""
    wh = settings.warehouse_path
    if not wh.is_file():
        return
    st = wh.stat()
    src = manifest.get("source", {})
    if (src.get("size"), src.get("mtime_ns")) != (st.st_size, st.st_mtime_ns):
        raise UserError(
            "The Parquet export is older than the warehouse; run `enclave export parquet`."
        )


class SparkEngine:
    """Runs rewritten SQL on Spark over the Parquet export of the warehouse.

    Args:
        settings: ``spark_master``, ``parquet_dir``, ``query_timeout_s``, ``memory_limit``.
        parquet_dir: another export folder (tests, benchmarks).
        session: a SparkSession to derive from (defaults to the process's shared one).
        conf: runtime SQL settings for this engine's session only (e.g. shuffle
            partitions for a small test warehouse); restricted keys cannot be changed.
    """

    name = "spark"

    def __init__(
        self,
        settings: Settings,
        *,
        parquet_dir: Path | None = None,
        session: Any = None,
        conf: Mapping[str, str] | None = None,
    ) -> None:
        self.root = Path(parquet_dir) if parquet_dir is not None else settings.parquet_dir
        manifest = read_manifest(self.root)
        if parquet_dir is None:
            _check_fresh(settings, manifest)
        self.timeout_s = float(settings.query_timeout_s)
        base = session if session is not None else shared_session(settings)
        self._spark = base.newSession()
        for key, value in (conf or {}).items():
            if key in SESSION_CONF:
                raise UserError(f"{key} is fixed by the enclave and cannot be changed.")
            self._spark.conf.set(key, value)
        for table in TABLES:
            self._register(table)

    def _register(self, table: str) -> None:
        path = str(table_path(self.root, table))
        cols = [c for c, _ in TABLES[table]]
        reader = self._spark.read.option("basePath", path)
        if table == "claims":
            reader = reader.option("recursiveFileLookup", "false")
        frame = reader.parquet(path).select(*cols)
        frame.createOrReplaceTempView(table)

    def execute(
        self, sql: str, timeout_s: float | None = None
    ) -> tuple[tuple[str, ...], list[tuple[Any, ...]]]:
        """``Engine.execute`` on Spark (a watchdog cancels the job group at the limit)."""
        limit = time_limit(self.timeout_s, timeout_s)
        spark_sql = to_spark(sql)
        if self._spark is None:
            raise QueryRejected("The engine is closed.")
        sc = self._spark.sparkContext
        group = f"enclave-{uuid.uuid4().hex}"
        done, timed_out = threading.Event(), threading.Event()

        def watchdog() -> None:
            # Jobs of one query start one after another (and planning may outlast the
            # limit), so keep cancelling the group until the query has returned.
            if done.wait(limit):
                return
            timed_out.set()
            while not done.is_set():
                sc.cancelJobGroup(group)
                done.wait(0.2)

        guard = threading.Thread(target=watchdog, daemon=True)
        sc.setJobGroup(group, "enclave query", interruptOnCancel=True)
        guard.start()
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                frame = self._spark.sql(spark_sql)
                rows = frame.collect()
            cols = tuple(frame.columns)
            return cols, [tuple(r) for r in rows]
        except Exception:
            if timed_out.is_set():
                raise too_slow(self.timeout_s) from None
            raise QueryRejected(FAILED) from None
        finally:
            done.set()
            sc.setLocalProperty("spark.jobGroup.id", None)

    def execute_raw(self, sql: str) -> tuple[tuple[str, ...], list[tuple[Any, ...]]]:
        """The same sandboxed path, for benchmarks timing an exact query."""
        return self.execute(sql)

    def close(self) -> None:
        """Drop this engine's views (the shared JVM stays up for the next engine)."""
        if self._spark is not None:
            for table in TABLES:
                self._spark.catalog.dropTempView(table)
            self._spark = None
