"""Two-engine spec: DuckDB and Spark give the same exact bounded answers (before noise) for
the same gateway queries, and refused queries are refused the same way without ever
reaching an engine.

Queries: every ``tests/spec/fixtures/gateway/*/*.sql`` whose header says ``-- expect: released``
plus the list below. Each runs the gateway's stages up to ``execute`` (parse → authorise →
check_shape → plan → rewrite) once, then executes the one rewritten SQL on both engines
and compares ``state.exact`` (counts exactly, sums to 1e-9 relative). Contribution bounds
are fixed (3 rows, 2 groups per person) so that bounding really binds on this warehouse;
the ``auto`` bound's input (the per-person row-count histogram) is compared separately.
"""

from __future__ import annotations

# ruff: noqa: I001 — the warehouse helper must import before enclave.gateway
from tests._warehouse import context

import dataclasses
import math
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from enclave.errors import EnclaveError, PolicyViolation, QueryRejected
from enclave.gateway.sql.bounded import auto_bound_sql
from enclave.gateway.values import QueryRequest, Requested
from enclave.gateway.pipeline import FRONT
from enclave.gateway.sql.rewrite import key_filters, rewrite
from tests import _spark_env
from tests._spark_env import SMALL_CONF
from tests._paths import FIXTURES

spark_session = _spark_env.spark_session  # fixtures
spark_warehouse = _spark_env.spark_warehouse

pytestmark = pytest.mark.spark

FIXTURES = FIXTURES
JOIN = "FROM claims c JOIN persons p ON p.person_id = c.person_id"

OWN = [
    "SELECT count(*) AS n FROM claims",
    "SELECT count(DISTINCT person_id) AS persons, sum(amount) AS total FROM claims",
    f"SELECT p.region, count(*) AS n, avg(c.amount) AS mean_amount {JOIN} GROUP BY p.region",
    "SELECT setting, sum(least(amount, 500)) AS s FROM claims GROUP BY setting",
    "SELECT date_trunc('month', visit_date) AS month, count(*) AS n FROM claims GROUP BY 1",
    "SELECT date_trunc('week', visit_date) AS week, count(*) AS n FROM claims "
    "WHERE icd10 LIKE 'J1%' GROUP BY 1",
    "SELECT substr(icd10, 1, 1) AS chapter, count(DISTINCT person_id) AS persons "
    "FROM claims GROUP BY 1",
    f"SELECT p.sex, p.insurance_category, count(*) AS n {JOIN} "
    "WHERE c.visit_date BETWEEN DATE '2023-03-01' AND DATE '2024-02-29' GROUP BY 1, 2",
    "SELECT p.region, var_samp(c.los_days) AS v, stddev_pop(c.amount) AS sd "
    f"{JOIN} WHERE c.setting = 'inpatient' GROUP BY p.region",
    "SELECT setting, count(*) AS n FROM claims WHERE dayofweek(visit_date) IN (0, 6) "
    "GROUP BY setting",
    "SELECT extract(year FROM visit_date) AS y, sum(los_days) AS days FROM claims GROUP BY 1",
    "WITH dm AS (SELECT person_id, amount FROM claims WHERE icd10 = 'E11.9') "
    "SELECT count(*) AS n, sum(amount) AS s FROM dm",
]


def _fixture(path: Path) -> tuple[dict[str, str], str]:
    """Header comments (``-- key: value``) and the SQL body, kept byte for byte."""
    headers: dict[str, str] = {}
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    body = 0
    for body, line in enumerate(lines):
        key, sep, value = line[3:].partition(":")
        if not line.startswith("-- ") or not sep:
            break
        headers[key.strip()] = value.strip()
    return headers, "".join(lines[body:]).rstrip("\n")


def _fixtures(verdict: set[str]) -> list[Any]:
    out = []
    for path in sorted(FIXTURES.glob("*/*.sql")):
        headers, sql = _fixture(path)
        if headers.get("expect") in verdict:
            name = f"{path.parent.name}/{path.stem}"
            out.append(pytest.param(sql, headers, id=name))
    return out


RELEASED = [pytest.param(sql, {}, id=f"own{i}") for i, sql in enumerate(OWN)]
RELEASED += _fixtures({"released"})
REFUSED = _fixtures({"QueryRejected", "PolicyViolation"})


class NoEngine:
    """Fails the test if a refused query ever reaches an engine."""

    name = "none"
    calls = 0

    def execute(self, sql: str, timeout_s: float | None = None) -> Any:
        NoEngine.calls += 1
        raise AssertionError("a refused query reached the engine")

    def close(self) -> None: ...


@pytest.fixture(scope="module")
def engines(spark_session, spark_warehouse):
    from enclave.engines.spark import SparkEngine

    settings, root = spark_warehouse
    duck = context(settings.warehouse_path, settings.home, rows_per_person=3, groups_per_person=2)
    spark = SparkEngine(settings, parquet_dir=root, session=spark_session, conf=SMALL_CONF)
    yield duck, dataclasses.replace(duck, engine=spark)
    spark.close()
    duck.engine.close()


def _front(sql: str, headers: dict[str, str], ctx) -> Requested:
    project = headers.get("project", "demo")
    policy = ctx.projects.get(project)
    user = headers.get("user") or (policy.members[0] if policy and policy.members else "u")
    eps = min(1.0, policy.max_epsilon_per_query) if policy else 1.0
    state = Requested(request=QueryRequest(sql, project, user, epsilon=eps))
    for stage in FRONT:
        state = stage(state, ctx)
    return state


def _same(a: list[tuple], b: list[tuple]) -> bool:
    """Equal as multisets; floats to 1e-9 relative (summation order differs)."""
    if len(a) != len(b):
        return False

    def key(row: tuple) -> tuple:
        return tuple(round(v, 6) if isinstance(v, float) else v for v in row)

    for x, y in zip(sorted(a, key=repr), sorted(b, key=repr), strict=True):
        for u, v in zip(x, y, strict=True):
            if isinstance(u, float) or isinstance(v, float):
                if not math.isclose(float(u), float(v), rel_tol=1e-9, abs_tol=1e-9):
                    return False
            elif u != v:
                return Counter(map(key, a)) == Counter(map(key, b))
    return True


@pytest.mark.slow
@pytest.mark.parametrize(("sql", "headers"), RELEASED)
def test_same_exact_bounded_answer_on_duckdb_and_spark(engines, sql, headers):
    duck, spark = engines
    try:
        state = _front(sql, headers, duck)
    except (QueryRejected, PolicyViolation) as exc:  # plan-stage refusal: same on both
        with pytest.raises(type(exc)):
            _front(sql, headers, spark)
        return
    assert state.plan is not None and isinstance(state.plan.rows_per_person, int)
    state = rewrite(state, duck)
    sql_out = state.rewritten_sql
    got_duck = duck.engine.execute(sql_out)
    got_spark = spark.engine.execute(sql_out)
    assert got_duck[0] == got_spark[0]
    if not _same(got_duck[1], got_spark[1]):
        raise AssertionError("DuckDB and Spark disagree on the exact bounded answer")


@pytest.mark.slow
@pytest.mark.parametrize("sql", OWN[:4])
def test_same_auto_bound_histogram(engines, sql):
    duck, spark = engines
    state = _front(sql, {}, duck)
    hist_sql = auto_bound_sql(state.plan.relation_sql, key_filters(state.plan, duck.dataset), 64)
    assert _same(duck.engine.execute(hist_sql)[1], spark.engine.execute(hist_sql)[1])


@pytest.mark.parametrize(("sql", "headers"), REFUSED)
def test_refused_the_same_way_before_any_engine(engines, sql, headers):
    duck, spark = engines
    outcomes = []
    for ctx in (duck, spark):
        guarded = dataclasses.replace(ctx, engine=NoEngine())
        with pytest.raises(EnclaveError) as info:
            _front(sql, headers, guarded)
            raise AssertionError("the front half let a refused fixture through")
        outcomes.append((type(info.value).__name__, str(info.value)))
    assert outcomes[0] == outcomes[1]
    assert outcomes[0][0] == headers["expect"]
    assert NoEngine.calls == 0
