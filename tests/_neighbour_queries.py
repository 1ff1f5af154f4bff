"""Queries aimed at value-dependent failures, for the neighbouring-warehouse tester.

``queries()`` is a hypothesis strategy of whole requests over ``claims c JOIN persons p``.
Expressions are built from typed templates (number, text, date, condition) nested a few
levels deep: CASE / COALESCE / LEAST / GREATEST / ABS / ROUND / FLOOR / CEIL, casts to
every numeric and text type, arithmetic, text and date functions, around integer columns
(``los_days``, ``birth_year``), ``amount``, text columns and ``visit_date``, with extreme
literals, and with branch conditions that hold only for the added person
(``ADVERSARY_CONDITIONS``). They are placed in WHERE, group keys, aggregate arguments and
WITH bodies. Most are well typed by construction, so they reach the engine.

``function_calls()`` lists every allow-listed function (by every name sqlglot knows it by,
plus DuckDB spellings) with one to three argument slots, each filled with a column.
"""

from __future__ import annotations

import re

from hypothesis import strategies as st

__all__ = ["ADVERSARY_CONDITIONS", "JOIN", "function_calls", "queries"]

JOIN = "FROM claims c JOIN persons p ON p.person_id = c.person_id"

#: true only on the added person's rows (see ``tests/_neighbours.ADVERSARY``)
ADVERSARY_CONDITIONS = (
    "p.region = 'Lienchiang'",
    "p.insurance_category = 'other'",
    "p.birth_year > 2020",
    "c.amount > 1e6",
    "c.los_days > 1000",
    "c.icd10 LIKE 'E78%'",
    "c.icd10 IS NULL",
    "c.icd10 = 'U07.1'",
)
NUM_LEAVES = (
    "c.los_days",
    "p.birth_year",
    "c.amount",
    "0",
    "-1",
    "1",
    "2",
    "100000",
    "2147483647",
    "2147483648",
    "999999999999999999",
    "1e308",
    "1e34",
    "0.5",
    "(-2147483647 - 1)",
)
#: leaves that are refused wherever they appear: drawn rarely, so most queries get further
RARE_LEAVES = (
    "9223372036854775807",
    "12345678901234567890123456789012345678901",
    "1e400",
    "CAST(c.icd10 AS INTEGER)",
    "TRY_CAST(c.icd10 AS DOUBLE)",
)
TEXT_LEAVES = (
    "c.icd10",
    "c.setting",
    "p.region",
    "p.insurance_category",
    "'E78.5'",
    "''",
    "'2147483647'",
    "'1e308'",
    "'2024-02-29'",
)
DATE_LEAVES = ("c.visit_date", "DATE '2024-02-29'", "DATE '2023-01-01'")
NUM_TYPES = ("DOUBLE", "FLOAT", "REAL", "INT", "INTEGER", "BIGINT", "SMALLINT", "DECIMAL(9,2)")
DIGITS = ("0", "1", "2", "-1", "-2", "10", "-10", "c.los_days", "2147483647")
DIVISORS = ("2", "0.5", "3", "1e-308", "1e308")
AGGREGATES = ("SUM", "AVG", "STDDEV_SAMP", "VAR_POP", "MEDIAN")

NUM_FORMS = (
    "({n} + {n})",
    "({n} - {n})",
    "({n} * {n})",
    "({n} / {div})",
    "(-{n})",
    "ABS({n})",
    "ROUND({n})",
    "ROUND({n}, {digits})",
    "FLOOR({n})",
    "CEIL({n})",
    "FLOOR({n}, {digits})",
    "CEIL({n}, {digits})",
    "LEAST({n}, {n})",
    "GREATEST({n}, {n}, {n})",
    "COALESCE({n}, {n})",
    "CASE WHEN {b} THEN {n} ELSE {n} END",
    "CASE WHEN {adv} THEN {n} END",
    "CAST({n} AS {numtype})",
    "CAST({s} AS {numtype})",
    "length({s})",
    "year({d})",
    "week({d})",
    "week({d}, {digits})",
    "dayofweek({d})",
    "extract(month FROM {d})",
    "date_part('doy', {d})",
    "isoyear({d})",
)
TEXT_FORMS = (
    "upper({s})",
    "lower({s})",
    "trim({s})",
    "substr({s}, {digits}, {digits})",
    "left({s}, {digits})",
    "CAST({n} AS VARCHAR)",
    "CAST({d} AS VARCHAR)",
    "COALESCE({s}, 'none')",
    "CASE WHEN {b} THEN {s} ELSE {s} END",
    "CASE WHEN {adv} THEN {s} END",
    "strftime({d}, '%Y-%m')",
)
DATE_FORMS = (
    "date_trunc('week', {d})",
    "date_trunc('month', {d})",
    "COALESCE({d}, DATE '2024-01-01')",
    "CASE WHEN {b} THEN {d} ELSE {d} END",
    "CAST({s} AS DATE)",
    "({d} + {n})",
)
BOOL_FORMS = (
    "{n} > {n}",
    "{n} = {n}",
    "{n} <= {n}",
    "{s} = {s}",
    "{s} LIKE 'E78%'",
    "{d} > {d}",
    "{n} IS NULL",
    "{s} IS NOT NULL",
    "{n} BETWEEN {n} AND {n}",
    "{n} IN ({nlist})",
    "{s} IN ({slist})",
    "NOT ({b})",
    "({b} AND {b})",
    "({b} OR {b})",
    "{adv}",
)
_SLOT = re.compile(r"\{(\w+)\}")
_KIND = {"n": (NUM_LEAVES, NUM_FORMS), "s": (TEXT_LEAVES, TEXT_FORMS)}
_KIND.update({"d": (DATE_LEAVES, DATE_FORMS), "b": (ADVERSARY_CONDITIONS, BOOL_FORMS)})
_FLAT = {"numtype": NUM_TYPES, "digits": DIGITS, "div": DIVISORS, "adv": ADVERSARY_CONDITIONS}


def _fill(draw: st.DrawFn, template: str, depth: int) -> str:
    def one(match: re.Match[str]) -> str:
        slot = match.group(1)
        if slot in _FLAT:
            return draw(st.sampled_from(_FLAT[slot]))
        if slot == "nlist":
            items = st.sampled_from(("1", "-1", "2147483648", "1e308", "-c.los_days"))
            return ", ".join(draw(st.lists(items, min_size=1, max_size=3)))
        if slot == "slist":
            items = st.sampled_from(("'E78.5'", "'J10.1'", "CAST(c.los_days AS VARCHAR)"))
            return ", ".join(draw(st.lists(items, min_size=1, max_size=3)))
        return expression(draw, slot, depth - 1)

    return _SLOT.sub(one, template)


def expression(draw: st.DrawFn, kind: str, depth: int) -> str:
    """An expression of ``kind`` (n, s, d, b) at most ``depth`` templates deep."""
    leaves, forms = _KIND[kind]
    if depth <= 0 or draw(st.integers(0, 3)) == 0:
        if kind == "n" and draw(st.integers(0, 49)) == 37:  # not 0: hypothesis favours bounds
            return draw(st.sampled_from(RARE_LEAVES))
        return draw(st.sampled_from(leaves))
    return _fill(draw, draw(st.sampled_from(forms)), depth)


SHAPES = (
    "SELECT COUNT(*) AS n {join} WHERE {b}",
    "SELECT {agg}({n}) AS a {join}",
    "SELECT COUNT({s}) AS a, SUM({n}) AS b {join} WHERE {b}",
    "SELECT {s} AS k, COUNT(*) AS n {join} GROUP BY 1",
    "SELECT {n} AS k, {agg}(c.amount) AS a {join} GROUP BY 1",
    "SELECT {d} AS k, COUNT(*) AS n {join} GROUP BY 1",
    "SELECT p.region, {agg}({n}) AS a {join} WHERE {b} GROUP BY p.region",
    "WITH t AS (SELECT c.person_id, {n} AS x FROM claims c WHERE {b}) SELECT SUM(x) AS s FROM t",
    "WITH t AS (SELECT c.person_id, c.setting, {s} AS x FROM claims c) "
    "SELECT setting, COUNT(*) AS n FROM t WHERE x IS NOT NULL GROUP BY setting",
    "WITH t AS (SELECT c.person_id, {n} AS x FROM claims c) "
    "SELECT p.region, COUNT(*) AS n FROM t JOIN persons p ON p.person_id = t.person_id "
    "WHERE t.x > 0 GROUP BY p.region",
)
#: a WITH body reads one table: its person-table columns become claims columns of the
#: same kind (and conditions on them conditions that still single out the added person)
_CLAIMS_ONLY = {
    "p.region = 'Lienchiang'": "c.amount > 5e8",
    "p.insurance_category = 'other'": "c.icd10 = 'Z99.89'",
    "p.birth_year > 2020": "c.los_days > 30000",
    "p.birth_year": "c.los_days",
    "p.region": "c.setting",
    "p.insurance_category": "c.icd10",
}


@st.composite
def queries(draw: st.DrawFn, depth: int = 3) -> str:
    """One whole query: a shape with its slots filled by nested expressions."""
    shape = draw(st.sampled_from(SHAPES)).replace("{join}", JOIN)
    shape = shape.replace("{agg}", draw(st.sampled_from(AGGREGATES)))
    sql = _fill(draw, shape, depth + 1)
    if sql.startswith("WITH"):
        body, sep, outer = sql.partition(") SELECT")
        for person_column, claims_column in _CLAIMS_ONLY.items():
            body = body.replace(person_column, claims_column)
        sql = body + sep + outer
    return sql


#: allow-listed functions by every name sqlglot parses into the same node, DuckDB spellings
FUNCTION_NAMES = (
    *("abs", "round", "floor", "ceil", "ceiling", "least", "greatest", "coalesce", "ifnull"),
    *("nvl", "if", "iif", "upper", "ucase", "lower", "lcase", "trim", "length", "len"),
    *("char_length", "character_length", "substr", "substring", "left", "date_trunc"),
    *("timestamp_trunc", "time_to_str", "strftime", "date_part", "datepart", "isoyear"),
    *("year", "quarter", "month", "week", "weekofyear", "week_of_year", "day", "dayofweek"),
    *("day_of_week", "dayofweek_iso", "isodow", "dayofyear", "day_of_year"),
)
AGGREGATE_NAMES = (
    *("count", "sum", "avg", "variance", "var_samp", "var_pop", "variance_samp"),
    *("variance_pop", "stddev", "stdev", "stddev_samp", "stddev_pop", "median"),
    *("quantile_cont", "percentile_cont", "quantile"),
)
SLOT_COLUMNS = ("c.los_days", "c.amount", "c.icd10", "c.visit_date")


def function_calls(name: str) -> list[str]:
    """Queries calling ``name`` with 1–3 slots, each slot a column (first, then the rest)."""
    calls = [f"{name}({a})" for a in SLOT_COLUMNS]
    for arity in (2, 3):
        for first in SLOT_COLUMNS:
            for rest in SLOT_COLUMNS:
                calls.append(f"{name}({', '.join([first, *[rest] * (arity - 1)])})")
    if name in AGGREGATE_NAMES:
        return [f"SELECT {call} AS a {JOIN}" for call in calls]
    return [f"SELECT COUNT(*) AS n {JOIN} WHERE {call} IS NOT NULL" for call in calls]
