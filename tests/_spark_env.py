"""Fixtures for Spark tests: one JVM per test process, a small warehouse and its export.

Import the fixtures into a test module (``from tests._spark_env import …``). Spark tests
are skipped, saying why, only when Java or pyspark is missing.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from enclave.settings import Settings

__all__ = ["SMALL_CONF", "spark_session", "spark_warehouse"]

#: Runtime settings for a few thousand rows: fewer shuffle partitions, less overhead.
SMALL_CONF = {"spark.sql.shuffle.partitions": "2", "spark.sql.adaptive.enabled": "false"}


@pytest.fixture(scope="session")
def spark_session() -> Iterator[Any]:
    """The process's shared SparkSession (local[2]); started once per test process."""
    if shutil.which("java") is None:
        pytest.skip("Java is not installed; the Spark engine needs Java 17")
    pytest.importorskip("pyspark", reason="pyspark is not installed (the 'spark' extra)")
    from enclave.engines._spark_session import shared_session

    home = Path(__file__).parent  # settings only carry the master and memory here
    yield shared_session(Settings(home=home, memory_limit="1GB"))


@pytest.fixture(scope="module")
def spark_warehouse(tmp_path_factory: pytest.TempPathFactory) -> tuple[Settings, Path]:
    """Settings over a small synthetic warehouse (tests/_warehouse) and its export."""
    from enclave.engines.parquet import export_parquet
    from tests._warehouse import build

    home = tmp_path_factory.mktemp("spark-home")
    settings = Settings(home=home, query_timeout_s=120)
    build(settings.warehouse_path, persons=600)
    return settings, export_parquet(settings)
