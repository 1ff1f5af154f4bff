"""Date functions: date_diff, date ± INTERVAL, date parts — typed, total and bounded.

What is accepted is what DuckDB and Spark compute alike and what cannot fail on a row;
the rest is refused with what to write instead. Interval arithmetic bounds a date
difference from the date columns' policy ranges.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import pytest
import sqlglot

from enclave.errors import QueryRejected
from enclave.gateway.check.intervals import interval
from enclave.gateway.check.testing import example_context
from tests._data import add_rows
from tests._warehouse import build, context, front, run

J = "FROM claims c JOIN persons p ON p.person_id = c.person_id"
W = f"SELECT COUNT(*) AS n {J} WHERE"


@pytest.fixture(scope="module")
def example() -> Any:
    return example_context()


@pytest.mark.parametrize(
    ("where", "normalised"),
    [
        ("date_diff('day', DATE '2023-01-01', c.visit_date) < 30", "DATE_DIFF('DAY'"),
        ("datediff('week', c.visit_date, DATE '2024-01-01') * 2 > 3", "CAST(DATE_DIFF('WEEK'"),
        ("c.visit_date + INTERVAL 30 DAY < DATE '2024-01-01'", "INTERVAL '30' DAY"),
        ("INTERVAL 1 MONTH + c.visit_date < DATE '2024-01-01'", "INTERVAL '1' MONTH +"),
        ("date_add(c.visit_date, INTERVAL 2 WEEK) < DATE '2024-01-01'", "+ INTERVAL '2' WEEK"),
        ("c.visit_date - INTERVAL 1 YEAR >= DATE '2022-01-01'", "- INTERVAL '1' YEAR"),
        ("year(c.visit_date) - p.birth_year >= 65", "CAST(YEAR(c.visit_date) AS DOUBLE) -"),
    ],
)
def test_date_expressions_accepted(example: Any, where: str, normalised: str) -> None:
    assert normalised in front(f"{W} {where}", example).normalized_sql


@pytest.mark.parametrize(
    ("where", "message"),
    [
        ("date_diff('month', c.visit_date, DATE '2024-01-01') > 1", "'day' or 'week' only"),
        ("date_diff('year', c.visit_date, DATE '2024-01-01') > 1", "'day' or 'week' only"),
        ("c.visit_date - DATE '2023-01-01' > 1", "date_diff('day', a, b)"),
        ("c.visit_date + 1 > DATE '2023-01-01'", "Dates take no arithmetic"),
        ("c.visit_date * 2 > DATE '2023-01-01'", "Dates take no arithmetic"),
        ("c.visit_date + INTERVAL 2 HOUR > DATE '2023-01-01'", "Write intervals as"),
        ("c.visit_date + INTERVAL 1 QUARTER > DATE '2023-01-01'", "Write intervals as"),
        ("c.visit_date + INTERVAL (c.los_days) DAY > DATE '2023-01-01'", "Write intervals as"),
        ("c.visit_date + INTERVAL '-3' DAY > DATE '2023-01-01'", "Write intervals as"),
        ("c.visit_date + INTERVAL 10001 DAY > DATE '2023-01-01'", "Write intervals as"),
        ("INTERVAL 1 DAY - c.visit_date > DATE '2023-01-01'", "added to or subtracted"),
        ("INTERVAL 1 DAY > c.visit_date", "added to or subtracted"),
        ("c.amount + INTERVAL 1 DAY > 3", "Expected a date"),
        ("date_add(c.visit_date, 3) > DATE '2023-01-01'", "date_add takes a date and"),
        ("date_diff('day', c.icd10, c.visit_date) > 1", "Expected a date"),
        ("date_sub(c.visit_date, INTERVAL 3 DAY) > DATE '2023-01-01'", "DATE_SUB is not"),
    ],
)
def test_date_expressions_refused(example: Any, where: str, message: str) -> None:
    with pytest.raises(QueryRejected, match=message.replace("(", r"\(").replace(")", r"\)")):
        front(f"{W} {where}", example)


# --- interval arithmetic -----------------------------------------------------------------

DAYS = (float(dt.date(2023, 1, 1).toordinal()), float(dt.date(2024, 12, 31).toordinal()))


def _leaf(col: Any) -> tuple[float, float]:
    return DAYS if col.name == "visit_date" else (1900.0, 2026.0)


@pytest.mark.parametrize(
    ("expr", "bounds"),
    [
        ("date_diff('day', DATE '2023-01-01', visit_date)", (0.0, 730.0)),
        ("date_diff('day', visit_date, DATE '2023-01-01')", (-730.0, 0.0)),
        ("date_diff('week', DATE '2023-01-01', visit_date)", (0.0, 104.0)),
        ("date_diff('day', visit_date, visit_date)", (-730.0, 730.0)),
        ("date_diff('day', visit_date, visit_date + INTERVAL 30 DAY)", (-700.0, 760.0)),
        ("date_diff('day', DATE '2023-01-01', visit_date - INTERVAL 1 MONTH)", (-31.0, 702.0)),
        ("date_diff('day', DATE '2023-01-01', date_trunc('month', visit_date))", (-30.0, 730.0)),
        ("date_diff('day', DATE '2024-01-01', date_add(visit_date, INTERVAL 1 WEEK))",
         (-358.0, 372.0)),
        ("year(visit_date) - birth_year", (-3.0, 124.0)),
        ("month(visit_date) * 10", (10.0, 120.0)),
        ("extract(dow FROM visit_date)", (0.0, 6.0)),
        ("date_part('doy', visit_date)", (1.0, 366.0)),
        ("isoyear(visit_date)", (2022.0, 2025.0)),
        ("date_diff('day', DATE '2023-01-01', "
         "CASE WHEN birth_year > 2000 THEN visit_date ELSE DATE '2023-06-01' END)",
         (0.0, 730.0)),
    ],
)  # fmt: skip
def test_date_bounds(expr: str, bounds: tuple[float, float]) -> None:
    assert interval(sqlglot.parse_one(expr, dialect="duckdb"), _leaf) == bounds


def test_date_bounds_refuse_what_they_cannot_bound() -> None:
    for expr in ("date_diff('month', visit_date, visit_date)", "year(now())"):
        with pytest.raises(QueryRejected):
            interval(sqlglot.parse_one(expr, dialect="duckdb"), _leaf)


# --- totality: extreme dates never fail a query ----------------------------------------


@pytest.fixture(scope="module")
def ctx(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    home = tmp_path_factory.mktemp("dates")
    path = build(home / "w.duckdb", persons=100)
    people = [("edge0", 1, "F", "Taipei", "employee"), ("edge1", 9999, "M", "Taipei", "farmer")]
    days = (dt.date(1, 1, 1), dt.date(9999, 12, 31), None)
    claims = [
        (f"e{i}", f"edge{i % 2}", "p0", day, "inpatient", "E11.9", 10.0, 3)
        for i, day in enumerate(days)
    ]
    add_rows(path, {"persons": people, "claims": claims})
    ctx = context(path, home)
    yield ctx
    ctx.engine.close()


@pytest.mark.parametrize(
    "sql",
    [
        f"{W} c.visit_date + INTERVAL 10000 YEAR > DATE '2024-01-01'",
        f"{W} c.visit_date - INTERVAL 10000 YEAR < DATE '2024-01-01'",
        f"{W} date_diff('day', DATE '0001-01-01', c.visit_date) * "
        "date_diff('day', DATE '0001-01-01', c.visit_date) * "
        "date_diff('day', DATE '0001-01-01', c.visit_date) * "
        "date_diff('day', DATE '0001-01-01', c.visit_date) > 0",
        f"SELECT year(c.visit_date + INTERVAL 10000 YEAR) - p.birth_year AS age, "
        f"COUNT(*) AS n {J} GROUP BY 1",
        f"SELECT COUNT(CASE WHEN p.birth_year = 9999 THEN "
        f"date_diff('week', c.visit_date, DATE '9999-12-31') END) AS n {J}",
    ],
)
def test_extreme_dates_never_fail(ctx: Any, sql: str) -> None:
    state = run(front(sql, ctx, epsilon=0.5), ctx)
    assert state.release.rows
