"""The threat list as fixtures: every SQL file gets exactly its expected verdict.

``tests/spec/fixtures/gateway/<threat class>/<name>.sql`` starts with header comments:
``-- expect: QueryRejected | PolicyViolation | released``, optionally ``-- project: P``
(default demo), ``-- user: U`` (default: a member of P) and ``-- why: …``. ``released``
means the front half lets it through (the back half then answers it only as a noised,
charged release).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from enclave.errors import PolicyViolation, QueryRejected, UserError
from enclave.gateway.check.authorise import authorise
from enclave.gateway.check.check_shape import check_shape
from enclave.gateway.check.parse import parse
from enclave.gateway.check.testing import example_context, request_state
from enclave.gateway.plan.planner import plan
from enclave.gateway.values import GatewayContext, Requested
from tests._paths import FIXTURES

FIXTURES = FIXTURES
FILES = sorted(FIXTURES.glob("*/*.sql"))
EXPECT = {"QueryRejected": QueryRejected, "PolicyViolation": PolicyViolation}


def read_fixture(path: Path) -> tuple[dict[str, str], str]:
    headers: dict[str, str] = {}
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    body = 0
    for body, line in enumerate(lines):
        if not line.startswith("-- ") or ":" not in line:
            break
        key, _, value = line[3:].partition(":")
        if key.strip() not in {"expect", "project", "user", "why"}:
            break
        headers[key.strip()] = value.strip()
    return headers, "".join(lines[body:]).rstrip("\n")


def front(
    sql: str, ctx: GatewayContext, project: str = "demo", user: str | None = None
) -> Requested:
    state = request_state(sql, project, user)
    for stage in (parse, authorise, check_shape):
        state = stage(state, ctx)
    return state


@pytest.fixture(scope="module")
def ctx() -> GatewayContext:
    return example_context()


def test_fixture_folder_is_big_and_covers_every_threat_class() -> None:
    classes = {p.parent.name for p in FILES}
    assert len(FILES) >= 120
    assert {
        "row_reads",
        "writes_ddl",
        "files_network",
        "catalog_metadata",
        "multi_statement",
        "one_row_aggregates",
        "identifier_grouping",
        "subqueries",
        "windows",
        "set_operations",
        "cte_shadowing",
        "joins",
        "unbounded_aggregates",
        "error_oracles",
        "resource_exhaustion",
        "obfuscation",
        "nondeterminism",
        "released",
    } <= classes
    assert sum(1 for p in FILES if read_fixture(p)[0]["expect"] == "released") >= 25


@pytest.mark.parametrize("path", FILES, ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_fixture_verdict(path: Path, ctx: GatewayContext) -> None:
    headers, sql = read_fixture(path)
    expect = headers["expect"]
    project, user = headers.get("project", "demo"), headers.get("user")
    if expect == "released":
        state = front(sql, ctx, project, user)
        assert state.ast is not None and state.normalized_sql and state.project is not None
        return
    with pytest.raises(UserError) as info:  # refused before any data is read (plan included)
        plan(front(sql, ctx, project, user), ctx)
    assert type(info.value) is EXPECT[expect], f"got {type(info.value).__name__}: {info.value}"
