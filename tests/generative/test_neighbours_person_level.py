"""Neighbouring warehouses: patient-level tables, windows, cohorts and dates.

The added person (``tests._neighbours.ADVERSARY``: hundreds of claims, thousands of
diagnoses, amounts and stays far past the policy bounds, NULL and rare codes, edge dates)
never changes, for the shapes below, whether a request is released or refused, nor what
its dry run says; and no shape reaches the gateway's internal-error path (a clean refusal
names what to write instead). Each route is a shape the other neighbour tests do not
cover: per-person values used as keys, tiny factors whose rounding grid underflows, dates
moved out of the calendar, sampled tables and DISTINCT ON inside bodies and cohorts,
names that collide inside a body, and the first-occurrence rule of duplicate columns.
"""

from __future__ import annotations

from typing import Any

import pytest

from enclave.gateway import QueryRequest, dry_run, front
from tests._neighbours import Pair, outcome, pair_fixture

J = "FROM claims c JOIN persons p ON p.person_id = c.person_id"
P = "SELECT COUNT(*) AS n FROM persons p WHERE "


def _pl(item: str, outer: str = "SELECT COUNT(*) AS n, AVG(LEAST(t.x, 10)) AS a FROM t") -> str:
    return f"WITH t AS (SELECT person_id, {item} AS x FROM claims GROUP BY person_id) {outer}"


def _win(item: str, outer: str = "SELECT COUNT(*) AS n FROM w") -> str:
    over = "OVER (PARTITION BY person_id ORDER BY visit_date)"
    return f"WITH w AS (SELECT person_id, visit_date, {item} {over} AS v FROM claims) {outer}"


KEY = "SELECT t.x AS k, COUNT(*) AS n FROM t GROUP BY 1"
ROUTES: dict[str, str] = {
    # per-person values as keys (public integer domains, private otherwise)
    "pl-count-key-of-diagnoses": "WITH t AS (SELECT person_id, COUNT(*) AS x FROM diagnoses "
    "GROUP BY person_id) " + KEY,
    "pl-distinct-days-key": _pl("COUNT(DISTINCT visit_date)", KEY),
    "pl-span-key": _pl("date_diff('day', MIN(visit_date), MAX(visit_date))", KEY),
    "pl-average-key": _pl("AVG(amount)", KEY),
    "pl-count-band-key": _pl(
        "COUNT(*)",
        "SELECT CASE WHEN t.x >= 500 THEN 'heavy' WHEN t.x >= 2 THEN 'repeat' ELSE 'one' END "
        "AS b, COUNT(*) AS n FROM t GROUP BY 1",
    ),
    "pl-flags-key": "WITH t AS (SELECT person_id, BOOL_OR(icd10 IS NULL) AS f, "
    "BOOL_AND(amount > 1e6) AS g FROM claims GROUP BY person_id) SELECT t.f AS f, t.g AS g, "
    "COUNT(*) AS n FROM t GROUP BY 1, 2",
    "pl-null-first-date-key": _pl(
        "MIN(CASE WHEN icd10 IS NULL THEN visit_date END)",
        "SELECT quarter(t.x) AS q, COUNT(*) AS n FROM t GROUP BY 1",
    ),
    # dates moved out of the calendar: refused before the domain is listed
    "pl-date-past-9999": _pl("MAX(visit_date + INTERVAL 10000 YEAR)", KEY),
    "pl-date-before-1": _pl("MIN(visit_date - INTERVAL 3000 YEAR)", KEY),
    "filter-then-pl-date-past-9999": "WITH f AS (SELECT person_id, visit_date + INTERVAL "
    "10000 YEAR AS d FROM claims), t AS (SELECT person_id, MAX(d) AS x FROM f GROUP BY "
    "person_id) SELECT year(t.x) AS y, COUNT(*) AS n FROM t GROUP BY 1",
    # bounds whose rounding grid (or its square's) underflows
    "tiny-factor-stddev": f"SELECT STDDEV(c.los_days * 1e-200) AS s {J}",
    "subnormal-factor-sum": f"SELECT SUM(c.los_days * 1e-320) AS s, AVG(c.amount * 1e-320) "
    f"AS a {J}",
    "subnormal-per-person": _pl("SUM(los_days) * 1e-320", "SELECT SUM(t.x) AS s FROM t"),
    "small-factor-ok": f"SELECT STDDEV(c.los_days * 1e-50) AS s, SUM(c.amount * 1e-90) AS t {J}",
    # rows chosen among everyone's rows
    "sample-in-cohort": P + "p.person_id IN (SELECT person_id FROM claims TABLESAMPLE "
    "RESERVOIR(5 ROWS))",
    "sample-in-patient-level": "WITH t AS (SELECT person_id, COUNT(*) AS x FROM claims "
    "TABLESAMPLE RESERVOIR(5 ROWS) GROUP BY person_id) SELECT COUNT(*) AS n FROM t",
    "sample-in-window": "WITH w AS (SELECT person_id, LAG(amount) OVER (PARTITION BY "
    "person_id ORDER BY visit_date) AS v FROM claims TABLESAMPLE RESERVOIR(5 ROWS)) "
    "SELECT COUNT(*) AS n FROM w",
    "distinct-on-cohort": P + "p.person_id IN (SELECT DISTINCT ON (icd10) person_id FROM claims)",
    # names
    "pl-duplicate-column": "WITH t AS (SELECT person_id, COUNT(*) AS x, SUM(amount) AS x FROM "
    "claims GROUP BY person_id) " + KEY,
    "pl-count-named-person": "WITH t AS (SELECT COUNT(*) AS person_id, person_id FROM claims "
    "GROUP BY person_id) SELECT COUNT(*) AS n FROM t",
    "cohort-hit-alias": "WITH t AS (SELECT person_id, COUNT(*) AS hit FROM claims WHERE "
    "amount > 5e8 GROUP BY person_id) SELECT COUNT(*) AS n, AVG(t.hit) AS a FROM persons p "
    "JOIN t ON t.person_id = p.person_id WHERE p.person_id IN (SELECT person_id FROM t "
    "WHERE hit > 0)",
    "window-shadows-column": _win("LAG(amount)", "SELECT SUM(w.v) AS s FROM w"),
    # windows joined to their own table, and windows of windows (fan-out bounded per table)
    "window-self-join": "WITH a AS (SELECT person_id, code, LAG(code) OVER (PARTITION BY "
    "person_id ORDER BY position) AS pc FROM diagnoses) SELECT COUNT(*) AS n FROM "
    "diagnoses d JOIN a ON a.person_id = d.person_id",
    "three-windows-joined": "WITH a AS (SELECT person_id, LAG(visit_date) OVER (PARTITION BY "
    "person_id ORDER BY visit_date) AS pv FROM claims), b AS (SELECT person_id, ROW_NUMBER() "
    "OVER (PARTITION BY person_id ORDER BY code) AS rn FROM diagnoses), r AS (SELECT "
    "person_id, LAG(days_supply) OVER (PARTITION BY person_id ORDER BY days_supply) AS pd "
    "FROM prescriptions) SELECT COUNT(*) AS n FROM a JOIN b ON a.person_id = b.person_id "
    "JOIN r ON r.person_id = a.person_id",
    "row-number-key": _win("ROW_NUMBER()", "SELECT w.v AS k, COUNT(*) AS n FROM w GROUP BY 1"),
    "lag-gap-key": _win(
        "LAG(visit_date)",
        "SELECT date_diff('day', w.v, w.visit_date) AS g, COUNT(*) AS n FROM w GROUP BY 1",
    ),
    # cohorts whose only members are the added person, and empty groups
    "cohort-having-heavy": P + "p.person_id IN (SELECT person_id FROM diagnoses GROUP BY "
    "person_id HAVING COUNT(*) > 5000)",
    "exists-having-max": P + "EXISTS (SELECT 1 FROM claims c2 WHERE c2.person_id = "
    "p.person_id HAVING MAX(c2.amount) > 5e8)",
    "pl-only-the-added-person": _pl(
        "SUM(amount)",
        "SELECT p.region, AVG(t.x) AS a, MEDIAN(t.x) AS m, STDDEV(t.x) AS s FROM persons p "
        "JOIN t ON t.person_id = p.person_id WHERE p.region = 'Lienchiang' GROUP BY 1",
    ),
    "pl-empty": "WITH t AS (SELECT person_id, SUM(amount) AS x FROM claims WHERE 1 = 0 GROUP BY "
    "person_id) SELECT AVG(t.x) AS a, MEDIAN(t.x) AS m, STDDEV(t.x) AS s, COUNT(*) AS n FROM t",
}
ASKS: dict[str, dict[str, Any]] = {
    "epsilon": {"epsilon": 0.5},
    "half-width": {"epsilon": None, "half_width": 77.0},
}


pair = pair_fixture("person-level-neighbours")


def _preview(ctx: Any, sql: str, ask: dict[str, Any]) -> dict[str, Any] | tuple[str, ...]:
    request = QueryRequest(sql=sql, project="demo", user="researcher@demo", **ask)
    try:
        out = dry_run(request, ctx)
    except Exception as exc:
        return ("refused", type(exc).__name__, str(exc))
    out.pop("budget_remaining")  # the releases charged so far differ by route order only
    return out


@pytest.mark.parametrize("ask", list(ASKS))
@pytest.mark.parametrize("route", list(ROUTES))
def test_person_level_outcome_and_preview_are_the_same_on_neighbours(
    route: str, ask: str, pair: Pair
) -> None:
    sql, asked = ROUTES[route], ASKS[ask]
    previews = _preview(pair.without, sql, asked), _preview(pair.with_, sql, asked)
    assert previews[0] == previews[1], f"{route}: the dry run depends on one person"
    without, with_ = outcome(pair.without, sql, **asked), outcome(pair.with_, sql, **asked)
    assert without == with_, f"{route}: one person changes the outcome: {without} / {with_}"
    assert without[:2] != ("refused", "InternalError"), f"{route}: {without}"


def test_window_order_is_completed_with_columns_the_project_may_read_only(pair: Pair) -> None:
    """The tie-breakers of a window's ORDER BY are the project's columns: a narrow project
    (persons and three prescription columns) never orders rows by a column it may not read."""
    sql = (
        "WITH w AS (SELECT person_id, LAG(days_supply) OVER (PARTITION BY person_id ORDER BY "
        "drug_code) AS v FROM prescriptions) SELECT AVG(w.v) AS a FROM w"
    )
    request = QueryRequest(sql=sql, project="pharmacy", user="pharmacist@uni", epsilon=0.5)
    relation = front(request, pair.without).plan.relation_sql.lower()
    assert "prescriptions.drug_code nulls first" in relation
    for hidden in ("amount", "claim_id", "code_system"):
        assert f"prescriptions.{hidden}" not in relation
    assert outcome(pair.without, sql, project="pharmacy") == ("released",)
