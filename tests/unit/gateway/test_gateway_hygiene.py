"""Hygiene refusals of the front half (issue 10): clean, typed, before any budget is reserved.

ε and half_width out of range, number literals beyond what DOUBLE/BIGINT hold, casts with
options, IN lists that are not literals, and parse messages (a trailing comment after the
statement is fine; a typo is a syntax error with its line and column; a second statement
is still refused). No message repeats the value that was refused.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import subprocess
import sys
from collections.abc import Callable

import pytest

from enclave.errors import PolicyViolation, QueryRejected, UserError
from enclave.gateway.check.authorise import authorise
from enclave.gateway.check.check_shape import check_shape
from enclave.gateway.check.parse import parse
from enclave.gateway.check.testing import example_context, request_state
from enclave.gateway.plan.clamps import CLAMP_SHARE
from enclave.gateway.plan.epsilon import MIN_EPSILON, MIN_EPSILON_SHARE
from enclave.gateway.plan.planner import plan
from enclave.gateway.values import GatewayContext, Requested
from enclave.settings import Settings

COUNT = "SELECT setting, COUNT(*) AS n FROM claims GROUP BY setting"


@pytest.fixture(scope="module")
def ctx() -> GatewayContext:
    return example_context()


def _front(sql: str, ctx: GatewayContext, **request: object) -> Requested:
    state = request_state(sql)
    state = dataclasses.replace(state, request=dataclasses.replace(state.request, **request))
    for stage in (parse, authorise, check_shape, plan):
        state = stage(state, ctx)
    return state


def _refused(sql: str, ctx: GatewayContext, **request: object) -> UserError:
    with pytest.raises(UserError) as info:
        _front(sql, ctx, **request)
    return info.value


# --- ε ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("epsilon", "like"),
    [
        (1e-9, 1e-5),
        (MIN_EPSILON * 0.99, 1e-5),
        (0.0, -1.0),
        (math.nan, -1.0),
        (math.inf, -1.0),
        (-math.inf, -1.0),
        ("0.1", -1.0),
        (True, -1.0),
    ],
)
def test_epsilon_out_of_range_is_refused_with_the_minimum(ctx, epsilon, like):
    err = _refused(COUNT, ctx, epsilon=epsilon)
    assert type(err) is QueryRejected
    assert "minimum of 0.0001" in err.message and "docs/privacy-model.md" in err.message
    # the same words for every value of its kind: the message never carries the value
    assert err.message == _refused(COUNT, ctx, epsilon=like).message


def test_minimum_epsilon_is_accepted(ctx):
    assert _front(COUNT, ctx, epsilon=MIN_EPSILON).plan.epsilon == MIN_EPSILON


def test_many_aggregates_raise_the_minimum_and_the_message_gives_it(ctx):
    # AVG: a rows bound ("auto", its share first) and a value clamp (its histogram's share)
    sums = ", ".join(f"AVG(amount) AS s{i}" for i in range(16))
    sql = f"SELECT {sums} FROM claims"
    auto_share = ctx.dataset.contribution.auto_epsilon_share
    # amount has an "auto" clamp: its histogram has CLAMP_SHARE of each aggregate's share
    floor = MIN_EPSILON_SHARE * 16 / (1 - auto_share) / CLAMP_SHARE
    assert floor > MIN_EPSILON
    err = _refused(sql, ctx, epsilon=MIN_EPSILON)
    assert type(err) is QueryRejected and "fewer aggregates" in err.message
    shown = float(err.message.split("minimum of ")[1].split(" ")[0])
    assert floor <= shown <= floor * 1.1
    state = _front(sql, ctx, epsilon=shown)  # the minimum the message names is enough
    assert min(state.plan.epsilon_split.values()) >= MIN_EPSILON_SHARE * 0.999


def test_default_epsilon_below_the_minimum_is_refused(ctx):
    tiny = dataclasses.replace(ctx.projects["demo"], epsilon=MIN_EPSILON)
    small = dataclasses.replace(ctx, projects={**ctx.projects, "demo": tiny})
    err = _refused(COUNT, small)
    assert type(err) is QueryRejected and "Give epsilon" in err.message


def test_epsilon_above_the_cap_is_still_a_policy_violation(ctx):
    assert type(_refused(COUNT, ctx, epsilon=50.0)) is PolicyViolation


# --- half_width ------------------------------------------------------------------------


@pytest.mark.parametrize("width", [0.0, -3.0, math.nan, math.inf, -math.inf, "5", False])
def test_half_width_not_a_finite_positive_number_is_refused(ctx, width):
    err = _refused(COUNT, ctx, half_width=width)
    assert type(err) is QueryRejected and "finite positive" in err.message
    assert err.message == _refused(COUNT, ctx, half_width=-1.0).message


@pytest.mark.parametrize("width", [1e300, 1e12, sys.float_info.max])
def test_half_width_too_wide_for_the_minimum_epsilon_is_refused(ctx, width):
    err = _refused(COUNT, ctx, half_width=width)
    assert type(err) is QueryRejected and "narrower half_width" in err.message
    assert "minimum of 0.0001" in err.message
    assert err.message == _refused(COUNT, ctx, half_width=1e9).message


@pytest.mark.parametrize("width", [1e-3, 1e-300, 5e-324])
def test_half_width_too_narrow_for_the_cap_is_a_policy_violation(ctx, width):
    err = _refused(COUNT, ctx, half_width=width)
    assert type(err) is PolicyViolation and "widen half_width" in err.message
    assert err.message == _refused(COUNT, ctx, half_width=0.01).message


def test_reasonable_half_width_gives_an_epsilon_in_range(ctx):
    p = _front(COUNT, ctx, half_width=5000.0).plan
    assert MIN_EPSILON <= p.epsilon <= ctx.projects["demo"].max_epsilon_per_query


# --- number literals -------------------------------------------------------------------

DIGITS = "Number literals may have at most 18 digits"
DOUBLE = "Number literals must be finite DOUBLE values"


@pytest.mark.parametrize(
    ("literal", "rule"),
    [
        ("12345678901234567890123456789012345678901", DIGITS),
        ("9999999999999999999", DIGITS),
        ("0.1234567890123456789", DIGITS),
        ("1234567890.1234567890e3", DIGITS),
        ("1e400", DOUBLE),
        ("1.7976931348623159e308", DOUBLE),
        ("1E+999", DOUBLE),
        ("1e-400", DOUBLE),
        ("1e", DOUBLE),
    ],
)
def test_out_of_range_number_literal_is_refused_by_rule(ctx, literal, rule):
    for where in (f"amount < {literal}", f"amount < -{literal}"):
        err = _refused(f"SELECT COUNT(*) AS n FROM claims WHERE {where}", ctx)
        assert type(err) is QueryRejected and err.message.startswith(rule)
        assert literal not in err.message


@pytest.mark.parametrize(
    "literal", ["123456789012345678", "0.12345678901234567", "1.5e20", "1e308", "1e-300", "0.0"]
)
def test_number_literal_in_range_is_accepted(ctx, literal):
    _front(f"SELECT COUNT(*) AS n FROM claims WHERE amount < {literal}", ctx, epsilon=0.1)


def test_big_literal_inside_a_case_branch_is_refused(ctx):
    sql = (
        "SELECT COUNT(CASE WHEN icd10 LIKE 'E78%' THEN 2147483647000000000000 END) AS n FROM claims"
    )
    assert _refused(sql, ctx).message.startswith(DIGITS)


# --- casts and IN lists ----------------------------------------------------------------


CAST_OPTIONS, NOT_LITERALS = "CAST takes one value", "IN lists may hold only literal"
CASTS_WITH_OPTIONS = (
    "CAST(amount AS VARCHAR FORMAT 'Zq9') = 'a'",
    "CAST(icd10 AS DATE DEFAULT NULL ON CONVERSION ERROR) IS NULL",
)
IN_ITEMS_NOT_LITERALS = (
    "'Zq9', CAST(amount AS VARCHAR)",
    "'Zq9', icd10",
    "'Zq9', upper(setting)",
    "'Zq9', 'a' || 'b'",
    "-los_days",
    "1 + 1",
    "(3)",
    "- -3",
    "-'Zq9'",
    "CAST('Zq9' AS VARCHAR)",
    "DATE '2023-02-30'",
    "CAST('2023-1-5' AS DATE)",
    "TIMESTAMP '2023-01-01'",
)


@pytest.mark.parametrize(
    ("where", "says"),
    [
        *((expr, CAST_OPTIONS) for expr in CASTS_WITH_OPTIONS),
        *((f"icd10 IN ({items})", NOT_LITERALS) for items in IN_ITEMS_NOT_LITERALS),
    ],
)
def test_cast_with_options_and_in_list_with_anything_but_literals_are_refused(ctx, where, says):
    err = _refused(f"SELECT COUNT(*) AS n FROM claims WHERE {where}", ctx)
    assert type(err) is QueryRejected and err.message.startswith(says)
    assert "Zq9" not in err.message


def test_in_list_anywhere_in_the_tree_is_checked(ctx):
    having = "SELECT setting, COUNT(*) AS n FROM claims GROUP BY setting HAVING n IN (1, n)"
    cte = (
        "WITH x AS (SELECT * FROM claims WHERE los_days IN (-los_days)) SELECT COUNT(*) AS n FROM x"
    )
    for sql in (having, cte):
        assert _refused(sql, ctx).message.startswith(NOT_LITERALS)


def test_in_list_of_literals_is_accepted(ctx):
    sql = (
        "SELECT setting, COUNT(*) AS n FROM claims WHERE los_days IN (-1, 0, 2.5, NULL) "
        "AND setting IN ('inpatient', 'outpatient') "
        "AND visit_date IN (DATE '2023-01-02', CAST('2023-06-01' AS DATE), '2023-07-01'::DATE) "
        "GROUP BY setting"
    )
    _front(sql, ctx, epsilon=0.1)


# --- parse messages --------------------------------------------------------------------


@pytest.mark.parametrize(
    "tail", ["; -- done", ";", "; ;", ";\n\n  ", "; /* end */", " -- done", ";\n-- a\n-- b\n"]
)
def test_trailing_semicolon_whitespace_and_comments_are_accepted(ctx, tail):
    sql = "SELECT sex, COUNT(*) AS n FROM persons GROUP BY sex"
    assert _front(sql + tail, ctx).normalized_sql == _front(sql, ctx).normalized_sql


@pytest.mark.parametrize(
    ("sql", "where"),
    [
        ("SLECT COUNT(*) FROM claims", "line 1, column 1"),
        ("\n  WTIH x AS (SELECT 1) SELECT COUNT(*) FROM x", "line 2, column 3"),
        ("SELECT COUNT(*) AS n\nFROM claims\nWHRE amount > 1", "line 3, column 6"),
        ("SELECT sex COUNT(*) FROM persons GROUP BY sex", "line 1, column 17"),
        ("SELECT COUNT(*) AS n FROM claims GROUP BY", "line 1, column 34"),
    ],
)
def test_syntax_error_says_so_and_where(ctx, sql, where):
    err = _refused(sql, ctx)
    assert type(err) is QueryRejected
    assert err.message.startswith(f"Syntax error near {where}")
    assert "statement is allowed" not in err.message
    for word in ("SLECT", "WTIH", "WHRE", "sex"):
        assert word not in err.message


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT 1; DROP TABLE x",
        "SELECT COUNT(*) FROM claims; -- done\nDROP TABLE claims",
        "SELECT COUNT(*) FROM claims; /* done */ ATTACH 'x.db'",
        "SELEC 1; DROP TABLE x",
    ],
)
def test_second_statement_is_still_refused(ctx, sql):
    err = _refused(sql, ctx)
    assert (
        err.message == "Only one SELECT statement is allowed (found a second statement after ';')."
    )


@pytest.mark.parametrize("sql", ["DROP TABLE claims", "EXPORT DATABASE 'x'", "CHECKPOINT"])
def test_other_statement_kinds_are_not_called_typos(ctx, sql):
    err = _refused(sql, ctx)
    assert err.message.startswith("Only one SELECT statement is allowed")


# --- through the CLI entry point -------------------------------------------------------


def test_cli_refuses_hygiene_cases_with_exit_2_and_a_typed_error(
    fresh_home: Callable[[], Settings],
):
    from enclave.store import open_store

    settings = fresh_home()
    with open_store(settings) as store:
        store.accounts.add_user("researcher@demo", "researcher", actor="test")
        token = store.accounts.issue_token("researcher@demo", actor="test")
    env = {**os.environ, "ENCLAVE_HOME": str(settings.home), "ENCLAVE_TOKEN": token}
    env.pop("ENCLAVE_DEBUG", None)

    def run(sql: str, *args: str) -> subprocess.CompletedProcess[str]:
        cmd = [sys.executable, "-m", "enclave", "query", "-", "--project", "demo", "--json"]
        return subprocess.run(
            [*cmd, *args], input=sql, capture_output=True, text=True, env=env, timeout=120
        )

    cases = [
        (COUNT, ("--epsilon", "1e-9"), "QueryRejected", "minimum", "1e-09"),
        (COUNT, ("--half-width", "1e300"), "QueryRejected", "narrower half_width", "1e+300"),
        (COUNT, ("--epsilon", "nan"), "QueryRejected", "finite", "nan"),
        (
            "SLECT COUNT(*) FROM claims",
            ("--epsilon", "0.1"),
            "QueryRejected",
            "Syntax error near line 1, column 1",
            "SLECT",
        ),
        (
            "SELECT COUNT(*) AS n FROM claims WHERE amount > 1e400",
            ("--epsilon", "0.1"),
            "QueryRejected",
            "Number literals must be finite",
            "1e400",
        ),
    ]
    for sql, args, kind, says, value in cases:
        done = run(sql, *args)
        assert done.returncode == 2, (args, done.stdout, done.stderr[-500:])
        error = json.loads(done.stdout)["error"]
        assert set(error) == {"type", "message"}
        assert error["type"] == kind and says in error["message"], error
        assert value not in error["message"]
    ok = run(COUNT + "; -- done", "--epsilon", "0.1", "--dry-run")
    assert ok.returncode == 0, ok.stderr[-500:]
    assert json.loads(ok.stdout)["epsilon"] == pytest.approx(0.1)
    with open_store(settings) as store:
        records = [r for r in store.audit_log.export() if r["action"] in ("query", "dry_run")]
    assert [r["verdict"] for r in records] == ["refused"] * len(cases) + ["estimated"]
    assert [r["error_type"] for r in records[:-1]] == [c[2] for c in cases]
    assert all(r["epsilon"] == 0 for r in records)
