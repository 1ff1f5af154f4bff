"""The release spec (``releases.toml``), run through the whole gateway on each engine.

A release's shape — its columns, bounds, ε split and δ — must be exactly what the spec
says, on DuckDB and on Spark alike (ehrql's spec tests, for releases): the spec is the
documentation of what a query gets.
"""

from __future__ import annotations

import dataclasses
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests import _spark_env
from tests._spark_env import SMALL_CONF
from tests._warehouse import context

spark_session = _spark_env.spark_session  # fixtures
spark_warehouse = _spark_env.spark_warehouse

SPEC = tomllib.loads((Path(__file__).parent / "releases.toml").read_text())
CASES = [pytest.param(name, case, id=name) for name, case in SPEC.items()]


def _generous(ctx: Any) -> Any:
    projects = {
        n: dataclasses.replace(p, epsilon=1e9, member_epsilon=None, delta=0.5)
        for n, p in ctx.projects.items()
    }
    return dataclasses.replace(ctx, projects=projects)


def _with_store(ctx: Any, home: Path) -> Any:
    from enclave.settings import Settings
    from enclave.store import open_store

    return dataclasses.replace(ctx, store=open_store(Settings(home=home)))


def _release(ctx: Any, case: dict[str, Any]) -> Any:
    from enclave.gateway import QueryRequest, answer

    user = ctx.projects["demo"].members[0]
    return answer(QueryRequest(case["sql"], "demo", user, epsilon=case["epsilon"]), ctx)


def check(release: Any, case: dict[str, Any]) -> None:
    assert list(release.columns) == case["columns"]
    bounds = release.bounds
    assert bounds["rows_per_person"] == case.get("rows_per_person")
    assert bounds["groups_per_person"] == case["groups_per_person"]
    assert bounds["rows_per_person_source"] == case["rows_per_person_source"]
    assert bounds["clamps"] == case.get("clamps", {})
    assert bounds["public_keys"] == case.get("public_keys", {})
    assert bounds["private_keys"] == case.get("private_keys", [])
    split = release.mechanisms["epsilon_split"]
    assert set(split) == set(case["split"])
    for piece, share in case["split"].items():
        assert split[piece] == pytest.approx(share, rel=1e-9)
    assert release.epsilon_spent == pytest.approx(case["epsilon"])
    assert release.delta_spent == pytest.approx(case["delta"])


@pytest.fixture(scope="module")
def duck(tmp_path_factory: pytest.TempPathFactory, spark_warehouse: Any) -> Iterator[Any]:
    settings, _ = spark_warehouse
    home = tmp_path_factory.mktemp("spec-duck")
    ctx = context(settings.warehouse_path, home, rows_per_person=3, groups_per_person=2)
    yield _with_store(_generous(ctx), home)
    ctx.engine.close()


@pytest.mark.parametrize(("name", "case"), CASES)
def test_release_spec_on_duckdb(name: str, case: dict[str, Any], duck: Any) -> None:
    check(_release(duck, case), case)


@pytest.fixture(scope="module")
def spark(
    spark_session: Any, spark_warehouse: Any, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Any]:
    from enclave.engines.spark import SparkEngine

    settings, root = spark_warehouse
    home = tmp_path_factory.mktemp("spec-spark")
    ctx = context(settings.warehouse_path, home, rows_per_person=3, groups_per_person=2)
    ctx.engine.close()
    engine = SparkEngine(settings, parquet_dir=root, session=spark_session, conf=SMALL_CONF)
    yield _with_store(_generous(dataclasses.replace(ctx, engine=engine)), home)
    engine.close()


@pytest.mark.spark
@pytest.mark.slow
@pytest.mark.parametrize(("name", "case"), CASES)
def test_release_spec_on_spark(name: str, case: dict[str, Any], spark: Any) -> None:
    check(_release(spark, case), case)
