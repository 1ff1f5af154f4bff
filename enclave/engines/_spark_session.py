"""One SparkSession per process (the JVM is expensive), configured for the enclave.

The shared session only carries configuration; each ``SparkEngine`` works in its own
``newSession()``, whose catalog holds nothing but the temporary views it registers.

Restricting configuration (set before the JVM starts, so researcher SQL cannot undo it —
the engine refuses ``SET`` anyway):

* ``spark.sql.runSQLOnFiles=false`` — no ``parquet.`/path``` tables in SQL;
* ``spark.sql.catalogImplementation=in-memory`` — no Hive metastore, no warehouse dir;
* ``spark.ui.enabled=false`` — no HTTP UI exposing query plans;
* ``spark.sql.ansi.enabled=false`` — a cast, overflow or division that cannot be computed
  gives NULL for that row instead of failing the whole query (a failure that depends on
  one row would tell the researcher about that row); the gateway computes in DOUBLE and
  wraps anything that could fail in ``TRY`` on DuckDB, which has the same meaning;
* ``spark.sql.session.timeZone=UTC``; Spark's own logs at ``FATAL`` so query text and
  plans are not written to the console.
"""

from __future__ import annotations

import re
import threading
import warnings
from typing import Any

from enclave.errors import UserError
from enclave.settings import Settings

__all__ = [
    "LOCAL_CONF",
    "SESSION_CONF",
    "TUNING_CONF",
    "driver_memory",
    "shared_session",
    "stop_shared_session",
]

SESSION_CONF: dict[str, str] = {
    "spark.sql.runSQLOnFiles": "false",
    "spark.sql.catalogImplementation": "in-memory",
    "spark.ui.enabled": "false",
    "spark.ui.showConsoleProgress": "false",
    "spark.sql.ansi.enabled": "false",
    "spark.sql.session.timeZone": "UTC",
    "spark.sql.sources.partitionColumnTypeInference.enabled": "false",
}

#: Performance defaults an engine may override for its own session.
TUNING_CONF: dict[str, str] = {
    "spark.sql.shuffle.partitions": "8",
    "spark.sql.adaptive.enabled": "true",
}

#: Local mode only: the driver listens on loopback (executors on a cluster must reach it).
LOCAL_CONF: dict[str, str] = {
    "spark.driver.bindAddress": "127.0.0.1",
    "spark.driver.host": "127.0.0.1",
}

_lock = threading.Lock()
_session: Any = None


def driver_memory(limit: str) -> str:
    """DuckDB-style memory limit ("2GB", "512MB") in Spark's notation.

    >>> driver_memory("2GB"), driver_memory("512MB"), driver_memory("3g")
    ('2g', '512m', '3g')
    """
    m = re.fullmatch(r"\s*(\d+)\s*([KMGT])I?B?\s*", limit.upper())
    return f"{m.group(1)}{m.group(2).lower()}" if m else "2g"


def _import_pyspark() -> Any:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pyspark warns about pandas versions on import
        try:
            from pyspark.sql import SparkSession
        except ImportError:
            raise UserError(
                "The Spark engine needs pyspark; install the 'spark' extra "
                "(pip install -e '.[spark]') and Java 17."
            ) from None
    return SparkSession


def shared_session(settings: Settings) -> Any:
    """The process's SparkSession (started on first use with ``settings.spark_master``)."""
    global _session
    with _lock:
        if _session is not None:
            return _session
        spark_session = _import_pyspark()
        builder = spark_session.builder.master(settings.spark_master).appName("enclave")
        conf = {**SESSION_CONF, **TUNING_CONF}
        conf["spark.driver.memory"] = driver_memory(settings.memory_limit)
        if settings.spark_master.startswith("local"):
            conf.update(LOCAL_CONF)
        for key, value in conf.items():
            builder = builder.config(key, value)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                _session = builder.getOrCreate()
            except Exception:
                raise UserError(
                    "Spark could not start; check Java 17 is installed and "
                    "ENCLAVE_SPARK_MASTER names a reachable master."
                ) from None
        _session.sparkContext.setLogLevel("FATAL")
        return _session


def stop_shared_session() -> None:
    """Stop the JVM-side context (end of process, or tests)."""
    global _session
    with _lock:
        if _session is not None:
            _session.stop()
            _session = None
