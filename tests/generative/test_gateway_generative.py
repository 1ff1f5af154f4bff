"""Generative tests: random queries never crash the gateway, and anything it lets
through is an aggregate release that was noised and charged."""

from __future__ import annotations

import dataclasses
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import event, given
from hypothesis import strategies as st

from enclave.errors import UserError
from enclave.gateway import GatewayContext, QueryRequest, answer
from enclave.service import open_context
from enclave.settings import Settings
from enclave.store import BudgetLimits
from tests._hypothesis import gateway_examples

GOOD_KEYS = [
    "setting",
    "persons.region",
    "persons.sex",
    "insurance_category",
    "date_trunc('week', visit_date)",
    "substr(icd10, 1, 1)",
    "icd10",
    "CASE WHEN birth_year < 1960 THEN 'old' ELSE 'young' END",
]
BAD_KEYS = ["claims.person_id", "claim_id", "amount * random()", "provider_id"]
GOOD_AGGS = [
    "COUNT(*)",
    "COUNT(DISTINCT claims.person_id)",
    "SUM(amount)",
    "AVG(los_days)",
    "SUM(LEAST(amount, 5000))",
    "STDDEV(amount)",
    "SUM(amount * amount)",
    "COUNT(icd10)",
    "AVG(CASE WHEN setting = 'inpatient' THEN los_days ELSE 0 END)",
]
BAD_AGGS = ["MAX(amount)", "MIN(visit_date)", "string_agg(icd10, ',')", "SUM(1 / los_days)"]
GOOD_FILTERS = [
    "amount > 1000",
    "icd10 LIKE 'J1%'",
    "setting IN ('inpatient', 'emergency')",
    "visit_date BETWEEN DATE '2023-12-01' AND DATE '2024-02-29'",
    "persons.birth_year > 1980",
    "coalesce(icd10, 'none') <> 'none'",
]
BAD_FILTERS = [
    "CAST(icd10 AS INTEGER) = 3",
    "los_days / 0 > 1",
    "claims.person_id = 'x'",
    "amount > (SELECT AVG(amount) FROM claims)",
]
GOOD_TAILS = ["", ";", " LIMIT 5", " ORDER BY 2 DESC"]
BAD_TAILS = ["; DROP TABLE claims", " UNION SELECT 1", ")", "'"]


def _pick(draw: st.DrawFn, good: list[str], bad: list[str]) -> st.SearchStrategy[str]:
    """Mostly valid parts, sometimes a poisoned one (about one part in eight)."""
    return st.sampled_from(bad) if draw(st.integers(0, 7)) == 0 else st.sampled_from(good)


@st.composite
def queries(draw: st.DrawFn) -> str:
    keys = list(
        dict.fromkeys(
            draw(_pick(draw, GOOD_KEYS, BAD_KEYS)) for _ in range(draw(st.integers(0, 2)))
        )
    )
    aggs = list(
        dict.fromkeys(
            draw(_pick(draw, GOOD_AGGS, BAD_AGGS)) for _ in range(draw(st.integers(0, 3)))
        )
    )
    items = keys + [f"{a} AS a{i}" for i, a in enumerate(aggs)]
    if not items:
        items = ["*"]
    sql = f"SELECT {', '.join(items)} FROM claims JOIN persons ON claims.person_id = persons.person_id"
    filters = [draw(_pick(draw, GOOD_FILTERS, BAD_FILTERS)) for _ in range(draw(st.integers(0, 2)))]
    if filters:
        sql += " WHERE " + " AND ".join(filters)
    if keys and draw(st.integers(0, 5)) > 0:
        sql += " GROUP BY " + ", ".join(keys)
    return sql + draw(_pick(draw, GOOD_TAILS, BAD_TAILS))


@pytest.fixture(scope="module")
def ctx(built_home: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[GatewayContext]:
    home = tmp_path_factory.mktemp("generative")
    shutil.copytree(built_home, home, dirs_exist_ok=True)
    context = open_context(Settings(home=home))
    demo = dataclasses.replace(context.projects["demo"], epsilon=1e6, member_epsilon=None)
    yield dataclasses.replace(context, projects={**context.projects, "demo": demo})
    context.engine.close()


def _spent(ctx: GatewayContext) -> float:
    return ctx.store.budget("demo", BudgetLimits.from_policy(ctx.projects["demo"])).epsilon_spent


@gateway_examples(150)
@given(sql=queries(), eps=st.sampled_from([0.1, 0.25, 0.5]))
def test_random_queries_never_crash_and_releases_are_charged(
    ctx: GatewayContext, sql: str, eps: float
) -> None:
    before = _spent(ctx)
    try:
        release = answer(
            QueryRequest(sql=sql, project="demo", user="researcher@demo", epsilon=eps), ctx
        )
    except UserError as exc:
        event(f"refused: {type(exc).__name__}")
        assert _spent(ctx) == pytest.approx(before)  # refused before anything was charged
        return
    event("released")
    # no InternalError escaped; an answer is an aggregate release, noised and charged
    if release.cached:
        assert release.epsilon_spent == 0 and _spent(ctx) == pytest.approx(before)
        return
    assert release.epsilon_spent == pytest.approx(eps)
    assert _spent(ctx) == pytest.approx(before + eps)
    assert any(c.endswith("_se") for c in release.columns)
    assert release.mechanisms
    for banned in ("person_id", "claim_id"):
        assert banned not in release.columns
