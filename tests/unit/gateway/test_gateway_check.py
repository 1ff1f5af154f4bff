"""Unit tests of the front half: parse, authorise, check_shape and their guarantees."""

from __future__ import annotations

import dataclasses
import re
from typing import Any

import duckdb
import pytest
from sqlglot import exp

from enclave.errors import PolicyViolation, QueryRejected, UserError
from enclave.gateway.check.authorise import authorise
from enclave.gateway.check.check_shape import check_shape
from enclave.gateway.check.parse import parse
from enclave.gateway.check.testing import example_context, request_state
from enclave.gateway.values import GatewayContext, Requested
from tests._data import in_memory
from tests._paths import ROOT
from tests.spec.test_gateway_fixtures import FILES, read_fixture


class _Untouchable:
    """Stands in for the engine and the store: the front half must never use them."""

    def __getattr__(self, name: str) -> Any:
        raise AssertionError(f"front half touched {name}")


@pytest.fixture(scope="module")
def ctx() -> GatewayContext:
    base = example_context()
    return dataclasses.replace(base, engine=_Untouchable(), store=_Untouchable())


def front(sql: str, ctx: GatewayContext, project: str = "demo") -> Requested:
    state = request_state(sql, project)
    for stage in (parse, authorise, check_shape):
        state = stage(state, ctx)
    return state


def test_parse_normalises_whitespace_case_and_quoting(ctx: GatewayContext) -> None:
    a = parse(request_state('select "Setting", count(*) from "CLAIMS" group by 1'), ctx)
    b = parse(request_state("SELECT setting ,\n COUNT( * )\tFROM claims GROUP BY 1"), ctx)
    assert a.normalized_sql == b.normalized_sql


def test_parse_keeps_literals_in_normalised_sql(ctx: GatewayContext) -> None:
    a = parse(request_state("SELECT COUNT(*) FROM claims WHERE icd10 = 'E11'"), ctx)
    b = parse(request_state("SELECT COUNT(*) FROM claims WHERE icd10 = 'E10'"), ctx)
    assert a.normalized_sql != b.normalized_sql
    assert "'E11'" in (a.normalized_sql or "")


def test_check_shape_canonicalises_ordinals_and_aliases(ctx: GatewayContext) -> None:
    a = front("SELECT setting, COUNT(*) AS n FROM claims GROUP BY 1", ctx)
    b = front("SELECT setting, COUNT(*) AS n FROM claims GROUP BY setting", ctx)
    c = front("SELECT c.setting, COUNT(*) AS n FROM claims c GROUP BY ALL", ctx)
    assert a.normalized_sql == b.normalized_sql
    assert c.normalized_sql != a.normalized_sql  # the alias c is part of the text


def test_check_shape_does_not_mutate_the_previous_tree(ctx: GatewayContext) -> None:
    state = authorise(
        parse(request_state("SELECT setting, SUM(los_days * 2) FROM claims GROUP BY 1"), ctx), ctx
    )
    before = state.ast.sql() if state.ast is not None else ""
    after = check_shape(state, ctx)
    assert state.ast is not None and state.ast.sql() == before
    assert after.ast is not state.ast


def test_final_tree_shape(ctx: GatewayContext) -> None:
    sql = (
        "WITH dm AS (SELECT person_id, amount FROM claims WHERE icd10 LIKE 'E11%') "
        "SELECT p.region, COUNT(DISTINCT dm.person_id), SUM(dm.amount) "
        "FROM dm JOIN persons p ON dm.person_id = p.person_id GROUP BY 1 "
        "HAVING COUNT(DISTINCT dm.person_id) > 5 ORDER BY 3 DESC LIMIT 10"
    )
    tree = front(sql, ctx).ast
    assert isinstance(tree, exp.Select)
    assert tree.args.get("with_") is None
    assert all(isinstance(e, exp.Alias) for e in tree.expressions)
    assert [e.alias for e in tree.expressions] == [
        "region",
        "count_distinct_person_id",
        "sum_amount",
    ]
    main = [c for c in tree.find_all(exp.Column) if not c.find_ancestor(exp.Having, exp.Order)]
    assert all(c.table for c in main)
    post = [c for c in tree.find_all(exp.Column) if c.find_ancestor(exp.Having, exp.Order)]
    assert {c.name for c in post} == {"count_distinct_person_id", "sum_amount"}
    assert all(not c.table for c in post)
    assert "dm.icd10 LIKE 'E11%'" in tree.sql()


def test_left_join_cte_filter_goes_into_on(ctx: GatewayContext) -> None:
    sql = (
        "WITH er AS (SELECT * FROM claims WHERE setting = 'emergency') "
        "SELECT p.sex, COUNT(er.amount) FROM persons p LEFT JOIN er ON p.person_id = er.person_id "
        "GROUP BY 1"
    )
    tree = front(sql, ctx).ast
    assert tree is not None
    join = tree.args["joins"][0]
    assert "er.setting = 'emergency'" in join.args["on"].sql()
    assert tree.args.get("where") is None


def test_integer_arithmetic_is_promoted_to_double(ctx: GatewayContext) -> None:
    tree = front("SELECT SUM(los_days * 1000000) AS s FROM claims", ctx).ast
    assert tree is not None
    assert "CAST(claims.los_days AS DOUBLE)" in tree.sql()


@pytest.mark.parametrize(
    ("sql", "error"),
    [
        ("SELECT COUNT(*) FROM claims", PolicyViolation),
    ],
)
def test_non_member_is_refused(sql: str, error: type[UserError], ctx: GatewayContext) -> None:
    state = request_state(sql, "demo", user="someone@else")
    with pytest.raises(error, match="not a member"):
        authorise(parse(state, ctx), ctx)


def test_suspended_project_is_refused(ctx: GatewayContext) -> None:
    demo = dataclasses.replace(ctx.projects["demo"], status="suspended")
    suspended = dataclasses.replace(ctx, projects={"demo": demo})
    with pytest.raises(PolicyViolation, match="suspended"):
        authorise(parse(request_state("SELECT COUNT(*) FROM claims"), suspended), suspended)


def test_column_message_lists_what_is_allowed(ctx: GatewayContext) -> None:
    with pytest.raises(PolicyViolation) as info:
        front("SELECT SUM(amount) FROM prescriptions", ctx, "pharmacy")
    assert "prescriptions.amount" in info.value.message
    assert "days_supply" in info.value.message


MARKER_TEXT = "zq_marker_7731"
MARKER_NUMBER = "987654321123"
REJECTED_TEMPLATES = [
    "SELECT icd10 FROM claims WHERE icd10 = {s}",
    "SELECT COUNT(*) FROM claims WHERE CAST({s} AS INT) = {n}",
    "SELECT COUNT(*) FROM claims WHERE person_id = {s}",
    "SELECT COUNT(*) FROM claims WHERE icd10 = {n}",
    "SELECT COUNT(*) FROM claims WHERE visit_date > {s}",
    "SELECT COUNT(*) FROM claims WHERE amount / (los_days - {n}) > 1",
    "SELECT COUNT(*) FROM claims WHERE error({s})",
    "SELECT MAX(amount) FROM claims WHERE icd10 = {s}",
    "SELECT COUNT(*) FROM read_csv({s})",
    "SELECT COUNT(*) FROM {s}",
    "SELECT COUNT(*) FROM claims WHERE icd10 = {s} UNION SELECT {n}",
    "SELECT COUNT(*) FROM claims WHERE icd10 = {s}; DROP TABLE claims",
    "SELECT COUNT(*) FROM claims WHERE icd10 = {s} AND",
    "SELECT COUNT(*) FROM claims WHERE icd10 LIKE {s} || 'x'",
    "SELECT SUM(amount * {n}) FROM claims GROUP BY {s}",
    "SELECT COUNT(*) FROM claims LIMIT {n}",
    "SELECT COUNT(*) FROM claims WHERE strftime(visit_date, '%Q{t}') = 'x'",
    "SELECT COUNT(*) FROM {s}.claims",
    'SELECT COUNT(*) FROM claims WHERE "{t}" = 1',
    "SELECT COUNT(*) FROM claims WHERE icd10 = {s} OFFSET {n}",
    "SELECT COUNT(*) FROM claims WHERE date_trunc({s}, visit_date) > DATE '2023-01-01'",
    "SELECT QUANTILE_CONT(amount, {n}) FROM claims",
    "SELECT COUNT(*) FROM claims WHERE icd10 = '{t}",
]


@pytest.mark.parametrize("template", REJECTED_TEMPLATES)
def test_messages_never_echo_literals(template: str, ctx: GatewayContext) -> None:
    sql = template.format(s=f"'{MARKER_TEXT}'", n=MARKER_NUMBER, t=MARKER_TEXT)
    with pytest.raises(UserError) as info:
        front(sql, ctx)
    message = info.value.message
    assert (MARKER_TEXT in message) is False
    assert (MARKER_NUMBER in message) is False


# Rows chosen to make any non-total expression fail: out-of-policy values, odd text, NULLs.
_ADVERSARIAL = [
    "INSERT INTO persons VALUES ('p1', 1800, 'X', 'Nowhere', 'alien'), ('p2', NULL, NULL, NULL, NULL)",
    "INSERT INTO providers VALUES ('v1', 'clinic', 'Taipei'), (NULL, NULL, NULL)",
    "INSERT INTO claims VALUES ('c1', 'p1', 'v1', DATE '1900-01-01', 'weird', 'not-a-code', "
    "1e300, 2147483000), ('c2', 'p2', NULL, NULL, NULL, NULL, -1e300, -2147483000), "
    "('c3', 'p1', 'v1', DATE '2023-05-05', 'inpatient', 'E11.9', 0, 0)",
    "INSERT INTO diagnoses VALUES ('c1', 'p1', 'ICD-10', 'E11', 2147483000)",
    "INSERT INTO prescriptions VALUES ('c1', 'p1', 'ATC', 'J01CA04', 2147483000, 1e300)",
]


@pytest.fixture(scope="module")
def adversarial_db() -> duckdb.DuckDBPyConnection:
    return in_memory(_ADVERSARIAL)


RELEASED = [p for p in FILES if read_fixture(p)[0]["expect"] == "released"]


@pytest.mark.parametrize("path", RELEASED, ids=lambda p: p.stem)
def test_released_sql_runs_without_error_on_adversarial_rows(
    path: Any, ctx: GatewayContext, adversarial_db: duckdb.DuckDBPyConnection
) -> None:
    headers, sql = read_fixture(path)
    state = front(sql, ctx, headers.get("project", "demo"))
    assert state.normalized_sql is not None
    adversarial_db.execute(state.normalized_sql).fetchall()


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT COUNT(*) FROM claims WHERE visit_date IN (DATE '2023-01-01', CAST(icd10 AS DATE))",
        "SELECT COUNT(*) FROM claims WHERE amount IN (1, 2, CAST(icd10 AS INT))",
        "SELECT COUNT(*) FROM claims WHERE amount IN (1, 2, -CAST(icd10 AS DOUBLE))",
        "SELECT COUNT(*) FROM claims WHERE icd10 IN ('a', 'b', 3)",
        "SELECT COUNT(*) FROM claims WHERE visit_date IN ('2023-01-01', '2023-02-30')",
    ],
)
def test_every_in_list_item_is_checked(sql: str, ctx: GatewayContext) -> None:
    with pytest.raises(QueryRejected):
        front(sql, ctx)


DOC = ROOT / "docs" / "sql-reference.md"


def _doc_examples() -> tuple[list[str], list[tuple[str, str]]]:
    text = DOC.read_text(encoding="utf-8")
    answered = text.split("## Examples that are answered", 1)[1].split("```sql", 1)[1]
    answered = answered.split("```", 1)[0]
    lines = [ln for ln in answered.splitlines() if not ln.strip().startswith("--")]
    queries = [q.strip() for q in "\n".join(lines).split(";") if q.strip()]
    refused = re.findall(r"^\| `(.+?)` \| (QueryRejected|PolicyViolation) \|", text, re.M)
    return queries, refused


def _patient_level_examples() -> list[str]:
    text = DOC.read_text(encoding="utf-8")
    section = text.split("## Patient-level tables", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```sql\n(.*?)```", section, re.S)
    queries = [q for b in blocks for q in b.split("\n\n")]
    return ["\n".join(ln for ln in q.splitlines() if not ln.startswith("--")) for q in queries]


def test_patient_level_worked_examples_are_answered(ctx: GatewayContext) -> None:
    examples = _patient_level_examples()
    assert len(examples) >= 11
    for sql in examples:
        assert front(sql, ctx).person_tables or "IN (SELECT" in sql, sql


def test_reference_examples_get_the_documented_verdicts(ctx: GatewayContext) -> None:
    answered, refused = _doc_examples()
    assert len(answered) >= 8 and len(refused) >= 10
    for sql in answered:
        assert front(sql, ctx).ast is not None
    for sql, verdict in refused:
        with pytest.raises(UserError) as info:
            front(sql, ctx)
        assert type(info.value).__name__ == verdict
