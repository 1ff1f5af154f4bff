"""Generative tests: whatever the SQL, the front half answers with a UserError or a tree
whose SQL runs on adversarial rows without raising; it never crashes or leaks sqlglot
exceptions, and it stays fast."""

from __future__ import annotations

import time

import pytest
from hypothesis import given
from hypothesis import strategies as st

from enclave.errors import UserError
from enclave.gateway.check.authorise import authorise
from enclave.gateway.check.check_shape import check_shape
from enclave.gateway.check.parse import parse
from enclave.gateway.check.testing import example_context, request_state
from enclave.gateway.values import GatewayContext, Requested
from tests._data import in_memory
from tests._hypothesis import gateway_examples
from tests.unit.gateway.test_gateway_check import _ADVERSARIAL

CTX: GatewayContext = example_context()
SETTINGS = gateway_examples(150)


DB = in_memory(_ADVERSARIAL)


def front_or_user_error(sql: str) -> Requested | None:
    """Run the front half; return the state, or None after a UserError. Anything else fails."""
    started = time.perf_counter()
    try:
        state = request_state(sql)
        for stage in (parse, authorise, check_shape):
            state = stage(state, CTX)
    except UserError:
        return None
    finally:
        assert time.perf_counter() - started < 2.0
    return state


TOKENS = [
    "SELECT",
    "FROM",
    "WHERE",
    "GROUP BY",
    "HAVING",
    "ORDER BY",
    "LIMIT",
    "JOIN",
    "LEFT JOIN",
    "ON",
    "AND",
    "OR",
    "NOT",
    "WITH",
    "AS",
    "UNION",
    "DISTINCT",
    "CASE",
    "WHEN",
    "THEN",
    "ELSE",
    "END",
    "IN",
    "LIKE",
    "BETWEEN",
    "IS",
    "NULL",
    "(",
    ")",
    ",",
    ";",
    "*",
    "+",
    "-",
    "/",
    "%",
    "=",
    "<",
    ">",
    "<=",
    "<>",
    "||",
    "::",
    ".",
    "'E11%'",
    "'2023-01-01'",
    "1",
    "0",
    "0.5",
    "1e308",
    "-1",
    "claims",
    "persons",
    "providers",
    "prescriptions",
    "diagnoses",
    "c",
    "p",
    "person_id",
    "claim_id",
    "provider_id",
    "amount",
    "los_days",
    "icd10",
    "setting",
    "region",
    "birth_year",
    "visit_date",
    "COUNT",
    "SUM",
    "AVG",
    "MIN",
    "MAX",
    "MEDIAN",
    "quantile_cont",
    "date_trunc",
    "'week'",
    "substr",
    "CAST",
    "INT",
    "DOUBLE",
    "VARCHAR",
    "DATE",
    "read_csv",
    "information_schema.tables",
    "OVER",
    "PARTITION BY",
    "$1",
    "?",
    "/*",
    "*/",
    "--",
    "\n",
    '"',
    "'",
    "[",
    "]",
    "{",
    "}",
    ":",
    "->",
    "FILTER",
    "QUALIFY",
    "PRAGMA",
    "COPY",
    "ATTACH",
    "DROP",
    "INSERT",
    "EXISTS",
    "ANY",
    "ALL",
]


@SETTINGS
@given(st.lists(st.sampled_from(TOKENS), min_size=1, max_size=40))
def test_random_token_soup_never_crashes(tokens: list[str]) -> None:
    state = front_or_user_error(" ".join(tokens))
    if state is not None:
        assert state.normalized_sql is not None
        DB.execute(state.normalized_sql).fetchall()


@SETTINGS
@given(st.text(max_size=300))
def test_random_text_never_crashes(text: str) -> None:
    front_or_user_error(text)


@SETTINGS
@given(st.text(max_size=200))
def test_random_text_after_select_never_crashes(text: str) -> None:
    front_or_user_error("SELECT COUNT(*) FROM claims WHERE " + text)


# -- a small grammar of plausible (and implausible) queries --------------------------------

COLUMNS = st.sampled_from(
    [
        "c.amount",
        "c.los_days",
        "c.icd10",
        "c.setting",
        "c.visit_date",
        "c.person_id",
        "c.claim_id",
        "c.provider_id",
        "p.region",
        "p.sex",
        "p.birth_year",
        "p.person_id",
        "amount",
        "region",
        "nosuch",
    ]
)
LITERALS = st.sampled_from(
    [
        "1",
        "0",
        "100",
        "-5",
        "0.5",
        "1e308",
        "'E11%'",
        "'J10'",
        "'2023-01-01'",
        "DATE '2023-06-01'",
        "NULL",
        "TRUE",
        "'bad-date'",
    ]
)
UNARY = st.sampled_from(
    ["abs", "round", "upper", "lower", "length", "md5", "hash", "exp", "year", "isoyear"]
)


def _binary(children: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    ops = st.sampled_from(["+", "-", "*", "/", "%", "=", "<>", ">", "<=", "AND", "OR", "LIKE"])
    return st.tuples(children, ops, children).map(lambda t: f"({t[0]} {t[1]} {t[2]})")


def _calls(children: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    return st.one_of(
        st.tuples(UNARY, children).map(lambda t: f"{t[0]}({t[1]})"),
        st.tuples(children, st.sampled_from(["INT", "DOUBLE", "VARCHAR", "DATE"])).map(
            lambda t: f"CAST({t[0]} AS {t[1]})"
        ),
        st.tuples(children, children, children).map(
            lambda t: f"CASE WHEN {t[0]} THEN {t[1]} ELSE {t[2]} END"
        ),
        st.tuples(children, children).map(lambda t: f"coalesce({t[0]}, {t[1]})"),
        st.tuples(children, children).map(lambda t: f"least({t[0]}, {t[1]})"),
        children.map(lambda c: f"date_trunc('week', {c})"),
        children.map(lambda c: f"substr({c}, 1, 3)"),
        children.map(lambda c: f"{c} IN (1, 'a', NULL)"),
        children.map(lambda c: f"{c} BETWEEN 1 AND 10"),
        children.map(lambda c: f"{c} IS NULL"),
    )


EXPRS = st.recursive(
    st.one_of(COLUMNS, LITERALS),
    lambda children: st.one_of(_binary(children), _calls(children)),
    max_leaves=8,
)
AGGS = st.one_of(
    st.just("COUNT(*)"),
    COLUMNS.map(lambda c: f"COUNT(DISTINCT {c})"),
    st.tuples(st.sampled_from(["SUM", "AVG", "MIN", "MEDIAN", "STDDEV", "COUNT"]), EXPRS).map(
        lambda t: f"{t[0]}({t[1]})"
    ),
    EXPRS.map(lambda e: f"quantile_cont({e}, 0.5)"),
)
FROMS = st.sampled_from(
    [
        "claims c",
        "claims c JOIN persons p ON c.person_id = p.person_id",
        "claims c LEFT JOIN persons p ON c.person_id = p.person_id AND p.sex = 'F'",
        "claims c JOIN persons p ON c.claim_id = p.person_id",
        "claims c JOIN providers pr ON c.provider_id = pr.provider_id",
        "persons p JOIN claims c ON p.person_id = c.person_id",
        "claims c, persons p",
    ]
)


@st.composite
def queries(draw: st.DrawFn) -> str:
    keys = draw(st.lists(EXPRS, max_size=2))
    aggs = draw(st.lists(AGGS, min_size=0, max_size=3))
    items = [*keys, *aggs] or ["1"]
    sql = f"SELECT {', '.join(items)} FROM {draw(FROMS)}"
    if draw(st.booleans()):
        sql += f" WHERE {draw(EXPRS)}"
    if keys and draw(st.booleans()):
        sql += " GROUP BY " + ", ".join(str(i + 1) for i in range(len(keys)))
    elif keys:
        sql += " GROUP BY " + ", ".join(keys)
    if aggs and draw(st.booleans()):
        sql += f" HAVING {aggs[0]} > {draw(LITERALS)}"
    if draw(st.booleans()):
        sql += f" ORDER BY {len(items)} DESC"
    if draw(st.booleans()):
        sql += f" LIMIT {draw(st.integers(min_value=-1, max_value=20_000))}"
    return sql


@pytest.mark.parametrize("n", [1, 2])
def test_grammar_sometimes_passes(n: int) -> None:
    """Guard against a grammar that is refused wholesale (the last property would be vacuous)."""
    sql = "SELECT c.setting, COUNT(*) FROM claims c GROUP BY " + ("1" if n == 1 else "c.setting")
    assert front_or_user_error(sql) is not None


# -- mostly well-formed queries, so that the "runs on adversarial rows" property bites -----

GOOD_KEYS = st.sampled_from(
    [
        "c.setting",
        "p.region",
        "p.sex",
        "date_trunc('week', c.visit_date)",
        "substr(c.icd10, 1, 1)",
        "extract(year FROM c.visit_date)",
        "CASE WHEN p.birth_year >= 1985 THEN 'young' ELSE 'old' END",
        "round(c.amount / 1000)",
        "c.los_days * 2",
        "upper(c.icd10)",
    ]
)
GOOD_VALUES = st.sampled_from(
    [
        "c.amount",
        "c.los_days",
        "p.birth_year",
        "1",
        "c.amount * c.los_days",
        "least(c.amount, 500)",
        "CASE WHEN c.icd10 LIKE 'E11%' THEN c.amount ELSE 0 END",
        "coalesce(c.los_days, 0)",
        "CAST(c.los_days AS DOUBLE) - 3",
        "abs(c.amount - 100)",
    ]
)
GOOD_AGGS = st.one_of(
    st.just("COUNT(*)"),
    st.just("COUNT(DISTINCT c.person_id)"),
    st.tuples(
        st.sampled_from(["SUM", "AVG", "MEDIAN", "STDDEV_SAMP", "VAR_POP", "COUNT"]), GOOD_VALUES
    ).map(lambda t: f"{t[0]}({t[1]})"),
    GOOD_VALUES.map(lambda v: f"quantile_cont({v}, 0.25)"),
)
GOOD_PREDS = st.recursive(
    st.sampled_from(
        [
            "c.amount > 100",
            "c.icd10 LIKE 'J1%'",
            "c.setting IN ('inpatient', 'outpatient')",
            "c.visit_date >= '2023-06-01'",
            "c.los_days BETWEEN 1 AND 5",
            "c.icd10 IS NULL",
            "p.birth_year / 10 > 195",
            "length(c.icd10) = 3",
            "c.visit_date < DATE '2024-01-01'",
            "strftime(c.visit_date, '%Y') = '2023'",
            "c.amount = 'x'",
            "c.amount / c.los_days > 1",
        ]
    ),
    lambda ch: st.one_of(
        st.tuples(ch, st.sampled_from(["AND", "OR"]), ch).map(lambda t: f"({t[0]} {t[1]} {t[2]})"),
        ch.map(lambda c: f"NOT ({c})"),
    ),
    max_leaves=4,
)


@st.composite
def good_queries(draw: st.DrawFn) -> str:
    keys = draw(st.lists(GOOD_KEYS, max_size=2, unique=True))
    aggs = draw(st.lists(GOOD_AGGS, min_size=1, max_size=3))
    sql = (
        f"SELECT {', '.join([*keys, *aggs])} FROM claims c "
        "JOIN persons p ON c.person_id = p.person_id"
    )
    if draw(st.booleans()):
        sql += f" WHERE {draw(GOOD_PREDS)}"
    if keys:
        sql += " GROUP BY " + ", ".join(str(i + 1) for i in range(len(keys)))
    if draw(st.booleans()):
        sql += f" HAVING {aggs[0]} > 10"
    if draw(st.booleans()):
        sql += f" ORDER BY {len(keys) + 1} DESC LIMIT 5"
    return sql


@pytest.mark.parametrize("grammar", [queries, good_queries], ids=["grammar", "well_formed"])
@SETTINGS
@given(data=st.data())
def test_queries_are_refused_or_run_on_adversarial_rows(grammar, data: st.DataObject) -> None:
    """Grammar queries, and mostly well-formed ones (so that running on the adversarial rows
    bites): a UserError, or SQL that runs."""
    state = front_or_user_error(data.draw(grammar(), label="sql"))
    if state is None:
        return
    assert state.normalized_sql is not None
    DB.execute(state.normalized_sql).fetchall()
