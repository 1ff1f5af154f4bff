"""Neighbouring warehouses: one person more or less never changes whether a query is answered.

A researcher sees, for every request, whether it was released or refused (and the refusal's
type and message). If that outcome depends on one person's rows — an overflow only their
values reach, a cast only their value breaks, a fan-out only their rows cause — each query
is an exact yes/no about that person, at a cost of a few µε. So the same request (same SQL,
ε, project; hence the same salt) on two warehouses that differ by exactly one person
(``tests/_neighbours``) must have the same outcome class: released on both, or refused on
both with the same error type and the same message. Numbers are not compared (noise
differs by design).

Requests: every fixture under ``tests/spec/fixtures/gateway``; the attack routes written out
below; every allow-listed function with every argument slot filled with a column; and
hypothesis-generated nests aimed at failures (``tests/_neighbour_queries``). A smaller
sample runs on Spark. Each warehouse has its own metadata store, so budgets and the
release cache of one never touch the other.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from tests import _spark_env
from tests._neighbour_queries import AGGREGATE_NAMES, FUNCTION_NAMES, JOIN, function_calls
from tests._neighbour_queries import queries as generated_queries
from tests._neighbours import Pair, build_pair, open_pair, outcome, pair_fixture
from tests._spark_env import SMALL_CONF
from tests.spec.test_gateway_fixtures import FILES, read_fixture

spark_session = _spark_env.spark_session  # fixture

#: the added person's attributes, as an attacker who knows them would write them
WHO = "p.region = 'Lienchiang' AND p.birth_year = 2026"
CONSTANTS = (
    "2147483647 + 1",
    "100000 * 100000",
    "ROUND(2147483647, -1)",
    "ABS(-2147483647 - 1)",
    "9223372036854775807 + 1",
    "ABS(-9223372036854775807 - 1)",
)
PLACES = {
    "agg": "SELECT COUNT(CASE WHEN {who} AND c.icd10 LIKE 'E78%' THEN {k} END) AS n {j}",
    "coalesce": "SELECT COUNT(COALESCE(CASE WHEN {who} THEN NULL ELSE 0 END, {k})) AS n {j}",
    "where": "SELECT COUNT(*) AS n {j} WHERE CASE WHEN {who} THEN {k} ELSE 0 END > 0",
    "key": "SELECT CASE WHEN c.amount > 1e6 THEN {k} ELSE 0 END AS g, COUNT(*) AS n {j} GROUP BY 1",
    "with": "WITH t AS (SELECT c.person_id, CASE WHEN c.los_days > 1000 THEN {k} ELSE 0 END "
    "AS x {j}) SELECT COUNT(*) AS n FROM t WHERE x = 0",
}
W = f"SELECT COUNT(*) AS n {JOIN} WHERE"
ROUTES: dict[str, str] = {
    f"constant-{place}-{i}": tpl.format(who=WHO, k=k, j=JOIN)
    for place, tpl in PLACES.items()
    for i, k in enumerate(CONSTANTS)
}
ROUTES |= {
    # integer columns under LEAST / GREATEST / CASE / COALESCE, then arithmetic
    "least-in-case-sum": "SELECT SUM(CASE WHEN c.setting = 'inpatient' THEN "
    f"LEAST(c.los_days, 100000) * 100000 ELSE 0 END) AS s {JOIN}",
    "least-in-case-count": f"SELECT COUNT(CASE WHEN {WHO} THEN "
    f"LEAST(c.los_days, 100000) * 100000 END) AS n {JOIN}",
    "greatest-times": f"{W} GREATEST(c.los_days, 0) * 100000 > 0",
    "case-times": f"{W} (CASE WHEN c.los_days > 0 THEN c.los_days ELSE 0 END) * 1000000 > 0",
    "coalesce-times": f"{W} COALESCE(c.los_days, 0) * 100000 > 0",
    "birth-year-times": f"{W} LEAST(p.birth_year, 3000) * 1060000 > 0",
    "abs-plus-one": f"{W} ABS(c.los_days) + 1 > 0",
    "negate-minus-one": f"{W} -(-c.los_days - 1) > 0",
    "least-times-key": f"SELECT LEAST(c.los_days, 100000) * 100000 AS g, COUNT(*) AS n {JOIN} "
    "GROUP BY 1",
    "greatest-times-with": "WITH t AS (SELECT c.person_id, GREATEST(c.los_days, 1) * 1000000 "
    f"AS x {JOIN}) SELECT COUNT(*) AS n FROM t WHERE x > 0",
    "length-times": f"{W} CASE WHEN length(c.icd10) > 5 THEN "
    "length(c.icd10) * 2000000000000000000 END > 0",
    "extract-times": f"{W} CASE WHEN {WHO} THEN "
    "extract(year FROM c.visit_date) * 9223372036854775807 END > 0",
    "date-plus-days": f"{W} c.visit_date + c.los_days > DATE '2024-01-01'",
    # narrowing casts
    "cast-float": f"{W} CAST(c.amount * 1e34 AS FLOAT) > 0",
    "cast-real": f"{W} CAST(c.amount * 1e34 AS REAL) > 0",
    "cast-float-in-case": f"SELECT COUNT(CASE WHEN {WHO} THEN CAST(c.amount * 1e34 AS FLOAT) "
    f"END) AS n {JOIN}",
    "cast-decimal": f"{W} CAST(c.amount AS DECIMAL(9,2)) > 0",
    "cast-int": f"{W} CAST(c.amount * 1000 AS INTEGER) > 0",
    "cast-bigint": f"{W} CAST(c.amount * 1e10 AS BIGINT) > 0",
    "cast-smallint": f"{W} CAST(c.los_days AS SMALLINT) > 0",
    "cast-varchar-format": f"{W} CAST(c.visit_date AS VARCHAR FORMAT 'YYYY') = '2024'",
    # arguments the typer might not look at
    "floor-digits-sum": f"SELECT SUM(FLOOR(c.amount, 2)) AS s {JOIN}",
    "floor-digits-where": f"{W} FLOOR(c.amount, -2) > 0",
    "ceil-digits-where": f"{W} CEIL(c.amount, -2) > 0",
    "floor-column-digits": f"{W} FLOOR(c.amount, c.los_days) > 0",
    "week-mode-key": f"SELECT week(c.visit_date, 1) AS w, COUNT(*) AS n {JOIN} GROUP BY 1",
    "week-mode-column": f"{W} week(c.visit_date, c.los_days) > 0",
    "count-two-columns": f"SELECT COUNT(c.icd10, c.los_days) AS n {JOIN}",
    "count-overflow-second": f"SELECT COUNT(c.icd10, 2147483647 + 1) AS n {JOIN}",
    "count-case-second": f"SELECT COUNT(c.icd10, CASE WHEN {WHO} THEN 2147483647 + 1 END) "
    f"AS n {JOIN}",
    # literals and IN lists
    "literal-41-digits": f"{W} c.amount > 12345678901234567890123456789012345678901",
    "literal-41-digits-case": f"SELECT COUNT(CASE WHEN {WHO} THEN "
    f"12345678901234567890123456789012345678901 END) AS n {JOIN}",
    "in-cast-column": f"{W} c.icd10 IN (CAST(c.los_days AS VARCHAR), 'E78.5')",
    "in-negated-column": f"{W} c.los_days IN (-c.los_days, 1)",
    "in-negated-amount": f"{W} c.amount IN (-c.amount)",
    "in-out-of-range": f"{W} c.los_days IN (1, 2147483648)",
    # engine errors that follow column statistics (min/max), not rows: DuckDB folds a CASE
    # no row can enter and then fails to bind the comparison — unless someone's value can
    "statistics-folded-case": f"{W} (CASE WHEN c.amount > 5e8 THEN 'E78.5' END) = c.setting",
    "statistics-folded-case-key": "SELECT CASE WHEN c.los_days > 30000 THEN 'long' END = "
    f"c.setting AS g, COUNT(*) AS n {JOIN} GROUP BY 1",
    # resource exhaustion
    "median-many-groups": "SELECT date_trunc('week', c.visit_date) AS w, p.region, c.setting, "
    f"MEDIAN(c.amount) AS m {JOIN} GROUP BY 1, 2, 3",
    "quantiles-per-region": "SELECT p.region, c.setting, "
    + ", ".join(f"QUANTILE_CONT(c.amount, 0.{i + 1}) AS q{i}" for i in range(8))
    + f" {JOIN} GROUP BY 1, 2",
    "join-person-five-way": "SELECT COUNT(*) AS n FROM claims c JOIN persons p ON "
    "p.person_id = c.person_id JOIN diagnoses d ON d.person_id = c.person_id JOIN "
    "prescriptions r ON r.person_id = d.person_id JOIN providers v ON "
    "v.provider_id = c.provider_id",
    "join-person-four-way-sum": "SELECT p.region, SUM(r.amount) AS s FROM claims c JOIN "
    "persons p ON p.person_id = c.person_id JOIN diagnoses d ON d.person_id = c.person_id "
    "JOIN prescriptions r ON r.person_id = c.person_id GROUP BY p.region",
    # patient-level tables and cohort filters: per-person values of the adversary's rows
    "person-table-overflow": "WITH t AS (SELECT person_id, SUM(CASE WHEN los_days > 50 THEN "
    "los_days * 2147483647 * 2147483647 END) AS big, COUNT(*) * 9223372036854775807 AS n "
    "FROM claims GROUP BY person_id HAVING SUM(amount) * 1e300 * 1e300 > 0 OR COUNT(*) > 0) "
    "SELECT COUNT(*) AS k, SUM(LEAST(t.big, 10)) AS s, AVG(t.n) AS m FROM t",
    "person-table-heavy-having": "WITH t AS (SELECT person_id, COUNT(*) AS n FROM claims "
    "GROUP BY person_id HAVING COUNT(*) > 500) SELECT p.region, COUNT(*) AS k FROM persons p "
    "JOIN t ON t.person_id = p.person_id GROUP BY p.region",
    "person-table-first-date-key": "WITH d AS (SELECT person_id, MIN(visit_date) AS first "
    "FROM claims WHERE icd10 LIKE 'E78%' GROUP BY person_id) SELECT d.first AS first, "
    "COUNT(*) AS n FROM d GROUP BY 1",
    "person-table-count-key": "WITH t AS (SELECT person_id, COUNT(DISTINCT icd10) AS k "
    "FROM claims GROUP BY person_id) SELECT t.k AS k, COUNT(*) AS n FROM t GROUP BY 1",
    "person-table-median-cost": "WITH c AS (SELECT person_id, SUM(amount) AS cost FROM claims "
    "GROUP BY person_id) SELECT MEDIAN(c.cost) AS m, SUM(c.cost) AS s FROM c",
    "window-lag-overflow": "WITH t AS (SELECT person_id, los_days, LAG(los_days, 3) OVER "
    "(PARTITION BY person_id ORDER BY visit_date) AS prev FROM claims) SELECT "
    "SUM(LEAST(t.prev * 2147483647 * 2147483647, 10)) AS s, COUNT(*) AS n FROM t",
    "window-readmission": "WITH adm AS (SELECT person_id, visit_date, LAG(visit_date) OVER "
    "(PARTITION BY person_id ORDER BY visit_date) AS prev FROM claims), r AS (SELECT "
    "person_id, SUM(CASE WHEN date_diff('day', prev, visit_date) <= 30 THEN 1 ELSE 0 END) "
    "AS k FROM adm GROUP BY person_id) SELECT SUM(LEAST(r.k, 5)) AS s FROM r",
    "filter-person-table-overflow": "WITH f AS (SELECT person_id, los_days * 2147483647 * "
    "2147483647 AS big, amount / 1e-300 AS huge FROM claims WHERE amount > 5e8), t AS (SELECT "
    "person_id, SUM(big) AS s, MAX(huge) AS h, COUNT(*) * 922337203685477580 * 100 AS n FROM f "
    "GROUP BY person_id HAVING SUM(huge) > 0 OR COUNT(*) > 0) SELECT SUM(LEAST(t.s, 10)) AS s, "
    "AVG(LEAST(t.h, 10)) AS h, AVG(LEAST(t.n, 10)) AS m FROM t",
    "filter-window-heavy": "WITH f AS (SELECT * FROM claims WHERE amount > 5e8), w AS (SELECT "
    "person_id, los_days, LAG(los_days, 100) OVER (PARTITION BY person_id ORDER BY visit_date) "
    "AS prev FROM f), r AS (SELECT person_id, COUNT(prev) AS k FROM w GROUP BY person_id) "
    "SELECT SUM(LEAST(r.k, 5)) AS s, COUNT(*) AS n FROM r",
    "filter-chain-renamed": "WITH a AS (SELECT person_id, amount * 1e300 AS cost FROM claims), "
    "b AS (SELECT * FROM a WHERE cost * 1e300 > 0), c AS (SELECT person_id, SUM(cost) AS t "
    "FROM b GROUP BY person_id) SELECT AVG(LEAST(c.t, 1000)) AS m FROM c",
    "first-date-case-shifted-key": "WITH f AS (SELECT person_id, MIN(CASE WHEN amount > 5e8 "
    "THEN visit_date + INTERVAL 3650 DAY END) AS d FROM claims GROUP BY person_id) SELECT "
    "year(f.d) AS y, COUNT(*) AS n, AVG(date_diff('day', f.d, DATE '2040-01-01')) AS a FROM f "
    "GROUP BY 1",
    "derived-heavy-presence": "SELECT COUNT(*) AS n, AVG(CASE WHEN t.person_id IS NULL THEN 1 "
    "ELSE 0 END) AS share FROM persons p LEFT JOIN (SELECT person_id, COUNT(*) AS k FROM claims "
    "GROUP BY 1 HAVING COUNT(*) > 500) t ON t.person_id = p.person_id",
    "cohort-of-person-table": "WITH t AS (SELECT person_id, COUNT(*) AS n FROM claims GROUP BY "
    "person_id) SELECT p.region, COUNT(*) AS k FROM persons p WHERE p.person_id IN (SELECT "
    "person_id FROM t WHERE n > 500) GROUP BY 1",
    "cohort-of-filter-distinct": "WITH f AS (SELECT person_id, amount FROM claims WHERE "
    "amount > 5e8) SELECT COUNT(*) AS k FROM persons p WHERE p.person_id IN (SELECT DISTINCT "
    "person_id FROM f) OR EXISTS (SELECT 1 FROM f WHERE person_id = p.person_id)",
    "cohort-not-in": "SELECT COUNT(*) AS n FROM persons p WHERE p.person_id NOT IN "
    "(SELECT person_id FROM prescriptions WHERE days_supply > 1000)",
    "cohort-exists-heavy": "SELECT p.region, COUNT(*) AS n FROM persons p WHERE EXISTS "
    "(SELECT 1 FROM claims c WHERE c.person_id = p.person_id AND c.amount > 5e8) GROUP BY 1",
    "readmission-rate-split-by-need": "WITH ip AS (SELECT person_id, visit_date, "
    "LAG(visit_date) OVER (PARTITION BY person_id ORDER BY visit_date) AS prev FROM claims "
    "WHERE setting = 'inpatient') SELECT p.region, COUNT(*) AS n, AVG(CASE WHEN "
    "date_diff('day', ip.prev, ip.visit_date) <= 30 THEN 1 ELSE 0 END) AS r FROM ip JOIN "
    "persons p ON p.person_id = ip.person_id GROUP BY p.region",
    "flag-only-the-adversary-has": "SELECT p.region, COUNT(*) AS n, AVG(CASE WHEN "
    f"c.amount > 5e8 THEN 1 ELSE 0 END) AS r, COUNT(DISTINCT c.person_id) AS d {JOIN} "
    "GROUP BY p.region",
    # a signed flag the adversary alone flips: its AVG's clamp ceiling is c·max(|lo|, |hi|)
    "signed-flag-only-the-adversary-flips": "SELECT p.region, COUNT(*) AS n, AVG(CASE WHEN "
    f"c.amount > 5e8 THEN -3 ELSE 1 END) AS r {JOIN} GROUP BY p.region",
    # hygiene
    "exact-sum-overflow": f"SELECT SUM(c.amount * 1e306) AS s {JOIN}",
    "trailing-comment": f"SELECT p.sex, COUNT(*) AS n {JOIN} GROUP BY p.sex; -- done",
    "syntax-typo": "SELEC COUNT(*) FROM claims",
}
#: requests whose ε or half-width is the route (SQL is plain)
ASKS: dict[str, dict[str, Any]] = {
    "epsilon-tiny": {"epsilon": 1e-9},
    "epsilon-huge": {"epsilon": 1e300},
    "half-width-absurd": {"epsilon": None, "half_width": 1e300},
    "half-width-tiny": {"epsilon": None, "half_width": 1e-300},
}
ASK_SQL = f"SELECT p.region, SUM(c.amount) AS s, MEDIAN(c.los_days) AS m {JOIN} GROUP BY 1"


def assert_same_outcome(pair: Pair, sql: str, **ask: Any) -> tuple[str, ...]:
    without = outcome(pair.without, sql, **ask)
    with_ = outcome(pair.with_, sql, **ask)
    assert without == with_, (
        f"one person changes the outcome of\n  {sql}\n"
        f"without them: {without}\nwith them:    {with_}"
    )
    return without


pair = pair_fixture("neighbours")


def _fixture_params() -> list[Any]:
    return [pytest.param(p, id=f"{p.parent.name}/{p.stem}") for p in FILES]


@pytest.mark.parametrize("path", _fixture_params())
def test_fixture_outcome_is_the_same_on_neighbours(path: Path, pair: Pair) -> None:
    headers, sql = read_fixture(path)
    assert_same_outcome(pair, sql, project=headers.get("project", "demo"), user=headers.get("user"))


@pytest.mark.parametrize("sql", [pytest.param(s, id=k) for k, s in ROUTES.items()])
def test_attack_route_outcome_is_the_same_on_neighbours(sql: str, pair: Pair) -> None:
    assert_same_outcome(pair, sql)


@pytest.mark.parametrize("ask", [pytest.param(a, id=k) for k, a in ASKS.items()])
def test_extreme_accuracy_request_outcome_is_the_same_on_neighbours(
    ask: dict[str, Any], pair: Pair
) -> None:
    assert_same_outcome(pair, ASK_SQL, **ask)


SPECIAL_CALLS = [
    f"{W} CAST({col} AS {to}) IS NOT NULL"
    for col in ("c.los_days", "c.amount", "c.icd10", "c.visit_date")
    for to in ("DOUBLE", "FLOAT", "REAL", "VARCHAR", "INT", "BIGINT", "DECIMAL(9,2)", "DATE")
] + [f"{W} extract(year FROM {col}) IS NOT NULL" for col in ("c.visit_date", "c.los_days")]


@pytest.mark.parametrize("name", [*FUNCTION_NAMES, *AGGREGATE_NAMES, "cast/extract"])
def test_every_function_with_columns_in_every_slot(name: str, pair: Pair) -> None:
    calls = SPECIAL_CALLS if name == "cast/extract" else function_calls(name)
    differ = [
        (sql, a, b)
        for sql in calls
        if (a := outcome(pair.without, sql)) != (b := outcome(pair.with_, sql))
    ]
    assert not differ, "one person changes the outcome of:\n" + "\n".join(
        f"  {sql}\n    without: {a}\n    with:    {b}" for sql, a, b in differ
    )


@settings(
    max_examples=400,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
@given(sql=generated_queries(), eps=st.sampled_from([0.25, 0.5]))
def test_generated_query_outcome_is_the_same_on_neighbours(
    pair: Pair, sql: str, eps: float
) -> None:
    event(" ".join(assert_same_outcome(pair, sql, epsilon=eps)[:2]))


# -- the same property on Spark (a smaller sample) ----------------------------------------

SPARK_ROUTES = [
    "constant-agg-0",
    "constant-where-1",
    "constant-key-2",
    "constant-with-3",
    "constant-coalesce-4",
    "least-in-case-count",
    "birth-year-times",
    "abs-plus-one",
    "length-times",
    "cast-float",
    "cast-bigint",
    "floor-digits-where",
    "week-mode-key",
    "count-case-second",
    "literal-41-digits-case",
    "in-negated-column",
    "join-person-five-way",
    "exact-sum-overflow",
]
#: Spark's first queries in a fresh session compile code for seconds: warm both engines up
#: and allow more time, so only a real fan-out (not a cold start) reaches the limit
SPARK_TIMEOUT_S = 30.0
WARM_UP = (
    "SELECT COUNT(*) AS n FROM claims",
    f"SELECT p.region, SUM(c.amount) AS s {JOIN} GROUP BY p.region",
)


@pytest.fixture(scope="module")
def spark_pair(spark_session: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pair]:
    from enclave.engines.parquet import export_parquet
    from enclave.engines.spark import SparkEngine

    homes = build_pair(tmp_path_factory.mktemp("neighbours-spark"), timeout_s=SPARK_TIMEOUT_S)
    engines = tuple(
        SparkEngine(s, parquet_dir=export_parquet(s), session=spark_session, conf=SMALL_CONF)
        for s in homes
    )
    for engine in engines:
        for sql in WARM_UP:
            engine.execute(sql)
    with open_pair(homes, engines) as opened:
        yield opened


@pytest.mark.spark
@pytest.mark.slow
@pytest.mark.parametrize("route", SPARK_ROUTES)
def test_attack_route_outcome_is_the_same_on_spark_neighbours(route: str, spark_pair: Pair) -> None:
    assert_same_outcome(spark_pair, ROUTES[route])


@pytest.mark.spark
@pytest.mark.slow
@settings(
    max_examples=20,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(sql=generated_queries(depth=2))
def test_generated_query_outcome_is_the_same_on_spark_neighbours(
    spark_pair: Pair, sql: str
) -> None:
    event(" ".join(assert_same_outcome(spark_pair, sql)[:2]))
