"""Neighbouring warehouses: keys derived from public domains, and date functions.

A public key's set is computed from the policy alone, so one person more or less never
changes it: the same request on two warehouses that differ by one person (``ADVERSARY``:
born 2026, visits on the edge dates of the range, rows of every kind) has the same
outcome class and — when released — exactly the same keys, which are the key sets' full
product (every cell, none suppressed). Date functions get the same check with the added
person's dates in every argument slot.
"""

from __future__ import annotations

import itertools
from typing import Any

import pytest

from enclave.gateway import QueryRequest, answer
from tests._neighbours import Pair, outcome, pair_fixture

JOIN = "FROM claims c JOIN persons p ON p.person_id = c.person_id"
BAND = (
    "CASE WHEN p.birth_year >= 2007 THEN '0-17' WHEN p.birth_year >= 1985 THEN '18-39' "
    "WHEN p.birth_year >= 1960 THEN '40-64' ELSE '65+' END"
)
PUBLIC = {
    "age-band": f"SELECT {BAND} AS band, COUNT(*) AS n FROM persons p GROUP BY 1",
    "region-age-band-diabetics": f"SELECT p.region, {BAND} AS band, "
    f"COUNT(DISTINCT c.person_id) AS n {JOIN} WHERE c.icd10 LIKE 'E11%' GROUP BY 1, 2",
    "decade": "SELECT FLOOR((2024 - p.birth_year) / 10) * 10 AS decade, COUNT(*) AS n "
    "FROM persons p GROUP BY 1",
    "age-at-visit": f"SELECT year(c.visit_date) - p.birth_year AS age, COUNT(*) AS n {JOIN} "
    "GROUP BY 1",
    "year-setting": "SELECT year(visit_date) AS y, setting, SUM(amount) AS s FROM claims "
    "GROUP BY 1, 2",
    "quarter": "SELECT date_trunc('quarter', visit_date) AS q, AVG(los_days) AS m FROM claims "
    "GROUP BY 1",
    "icd10-category": "SELECT substr(icd10, 1, 3) AS category, COUNT(*) AS n FROM claims "
    "GROUP BY 1",
    "weeks-since": "SELECT date_diff('week', DATE '2023-01-02', visit_date) AS w, COUNT(*) AS n "
    "FROM claims WHERE visit_date >= DATE '2024-02-01' GROUP BY 1",
    "birth-year": "SELECT p.birth_year, COUNT(*) AS n FROM persons p GROUP BY 1",
    "ages-in-where": f"SELECT year(c.visit_date) - p.birth_year AS age, COUNT(*) AS n {JOIN} "
    "WHERE year(c.visit_date) - p.birth_year BETWEEN -3 AND 2 GROUP BY 1",
}
EDGES = ("DATE '2023-01-01'", "DATE '2024-02-29'", "DATE '2024-12-31'", "c.visit_date")
DATES = [
    f"SELECT COUNT(*) AS n {JOIN} WHERE {call}"
    for a, b in itertools.product(EDGES, EDGES)
    for call in (
        f"date_diff('day', {a}, {b}) > 0",
        f"date_diff('week', {a}, {b}) * 1e300 > 0",
        f"{a} + INTERVAL 10000 YEAR > {b}",
        f"{a} - INTERVAL 10000 MONTH < {b}",
        f"date_add({a}, INTERVAL 1 DAY) = {b}",
    )
] + [
    f"SELECT COUNT(CASE WHEN p.birth_year = 2026 THEN date_diff('day', c.visit_date, "
    f"DATE '2024-12-31') END) AS n {JOIN}",
    f"SELECT AVG(CASE WHEN p.region = 'Lienchiang' THEN 1 ELSE 0 END) AS a {JOIN} "
    "WHERE year(c.visit_date + INTERVAL 1 MONTH) - p.birth_year < 0",
    f"SELECT date_diff('day', c.visit_date, DATE '2024-12-31') AS d, COUNT(*) AS n {JOIN} "
    "WHERE p.birth_year = 2026 GROUP BY 1",
]


pair = pair_fixture("public-keys")


def _released_keys(ctx: Any, sql: str) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    """The released key tuples and the full product of the plan's key sets."""
    from enclave.gateway.pipeline import front

    request = QueryRequest(sql=sql, project="demo", user="researcher@demo", epsilon=0.5)
    release = answer(request, ctx)
    plan = front(request, ctx).plan
    sets = [ctx.dataset.key_set(k.key_set).values for k in plan.keys]
    assert all(k.key_set for k in plan.keys) and release.delta_spent == 0.0
    return [tuple(r[: len(sets)]) for r in release.rows], list(itertools.product(*sets))


@pytest.mark.parametrize("sql", [pytest.param(s, id=k) for k, s in PUBLIC.items()])
def test_public_keys_are_the_same_on_neighbours(sql: str, pair: Pair) -> None:
    assert outcome(pair.without, sql) == outcome(pair.with_, sql) == ("released",)
    without, product = _released_keys(pair.without, sql)
    with_, product_with = _released_keys(pair.with_, sql)
    assert without == with_ == product == product_with  # every cell, on both


@pytest.mark.parametrize("sql", DATES)
def test_date_functions_have_the_same_outcome_on_neighbours(sql: str, pair: Pair) -> None:
    without, with_ = outcome(pair.without, sql), outcome(pair.with_, sql)
    assert without == with_, f"{sql}\n  without: {without}\n  with:    {with_}"
