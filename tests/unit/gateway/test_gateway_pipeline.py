"""The whole gateway, end to end, on a small ingested synthetic warehouse.

Every fixture marked ``released`` is answered only as a noised, charged release; every
refused fixture is refused by the full pipeline too, audited, and charges nothing.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from enclave.errors import BudgetExhausted, InternalError, UserError
from enclave.gateway import GatewayContext, QueryRequest, answer, dry_run
from enclave.service import open_context
from enclave.settings import Settings
from enclave.store import BudgetLimits
from tests.spec.test_gateway_fixtures import EXPECT, FILES, read_fixture

RELEASED = [p for p in FILES if read_fixture(p)[0]["expect"] == "released"]
REFUSED = [p for p in FILES if read_fixture(p)[0]["expect"] != "released"]


@pytest.fixture(scope="module")
def ctx(built_home: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[GatewayContext]:
    import shutil

    home = tmp_path_factory.mktemp("pipeline")
    shutil.copytree(built_home, home, dirs_exist_ok=True)
    settings = Settings(home=home)
    context = open_context(settings)
    # A generous project so the whole fixture folder fits in one budget.
    demo = dataclasses.replace(context.projects["demo"], epsilon=1e6, member_epsilon=None)
    context = dataclasses.replace(context, projects={**context.projects, "demo": demo})
    yield context
    context.engine.close()


def _spent(ctx: GatewayContext, project: str = "demo") -> float:
    limits = BudgetLimits.from_policy(ctx.projects[project])
    return ctx.store.budget(project, limits).epsilon_spent


MEMBERS = {"demo": "researcher@demo", "pharmacy": "pharmacist@uni"}


def _ask(sql: str, project: str = "demo", user: str | None = None, **kw: float) -> QueryRequest:
    member = user or MEMBERS.get(project, "researcher@demo")
    return QueryRequest(sql=sql, project=project, user=member, **kw)


def _epsilon_for(path: Path) -> float:
    """A distinct ε per fixture: fixtures that normalise to the same SQL must not share a
    cached release in this module's shared store."""
    return round(0.3 + RELEASED.index(path) * 1e-3, 6)


@pytest.mark.parametrize("path", RELEASED, ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_released_fixture_is_noised_and_charged(path: Path, ctx: GatewayContext) -> None:
    headers, sql = read_fixture(path)
    project = headers.get("project", "demo")
    before = _spent(ctx, project)
    eps = _epsilon_for(path)
    release = answer(_ask(sql, project, headers.get("user"), epsilon=eps), ctx)
    assert release.epsilon_spent == pytest.approx(eps)
    assert _spent(ctx, project) == pytest.approx(before + eps)
    assert not release.cached
    # every aggregate column comes with its standard error and 95% interval
    aggs = [c for c in release.columns if f"{c}_se" in release.columns]
    assert aggs, "a release must contain at least one aggregate"
    for agg in aggs:
        assert {f"{agg}_ci_low", f"{agg}_ci_high"} <= set(release.columns)
        pieces = release.mechanisms["columns"][agg]
        assert pieces and all(p in release.mechanisms["epsilon_split"] for p in pieces)
    for row in release.rows:
        rec = dict(zip(release.columns, row, strict=True))
        for agg in aggs:
            if rec[agg] is not None:
                assert rec[f"{agg}_se"] > 0
                assert rec[f"{agg}_ci_low"] <= rec[f"{agg}_ci_high"]
    # asking again costs nothing and returns the same release
    again = answer(_ask(sql, project, headers.get("user"), epsilon=eps), ctx)
    assert again.cached and again.rows == release.rows and again.epsilon_spent == 0
    assert _spent(ctx, project) == pytest.approx(before + eps)


@pytest.mark.parametrize("path", REFUSED, ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_refused_fixture_is_refused_audited_and_free(path: Path, ctx: GatewayContext) -> None:
    headers, sql = read_fixture(path)
    project = headers.get("project", "demo")
    before = _spent(ctx, project) if project in ctx.projects else 0.0
    audit_before = sum(1 for _ in ctx.store.audit_log.export())
    with pytest.raises(EXPECT[headers["expect"]]):
        answer(_ask(sql, project, headers.get("user"), epsilon=0.5), ctx)
    if project in ctx.projects:
        assert _spent(ctx, project) == pytest.approx(before)
    records = list(ctx.store.audit_log.export())
    assert len(records) == audit_before + 1
    last = records[-1]
    assert last["verdict"] == "refused" and last["error_type"] == headers["expect"]
    assert ctx.store.audit_log.verify().ok


def test_noise_differs_between_fresh_releases(ctx: GatewayContext) -> None:
    sql = "SELECT setting, COUNT(*) AS n FROM claims GROUP BY setting"
    a = answer(_ask(sql, epsilon=0.11), ctx)
    b = answer(_ask(sql, epsilon=0.12), ctx)
    assert [r[1] for r in a.rows] != [r[1] for r in b.rows]
    assert [r[0] for r in a.rows] == [r[0] for r in b.rows]  # public keys: all, same order


def test_public_keys_are_all_returned_even_when_empty(ctx: GatewayContext) -> None:
    sql = (
        "SELECT persons.region, COUNT(*) AS n FROM claims JOIN persons "
        "ON claims.person_id = persons.person_id WHERE claims.los_days > 1000 GROUP BY persons.region"
    )
    release = answer(_ask(sql, epsilon=0.3), ctx)
    regions = ctx.dataset.key_set("regions")
    assert regions is not None
    assert sorted(r[0] for r in release.rows) == sorted(regions.values)


def test_refusal_messages_carry_no_literal(ctx: GatewayContext) -> None:
    marker = "Zq9Marker"
    for sql in (
        f"SELECT icd10 FROM claims WHERE icd10 = '{marker}'",
        f"SELECT COUNT(*) FROM claims WHERE CAST('{marker}' AS INTEGER) > 1",
        f"SELECT MAX(amount) FROM claims WHERE icd10 = '{marker}'",
        f"SELECT * FROM read_csv('{marker}.csv')",
    ):
        with pytest.raises(UserError) as info:
            answer(_ask(sql, epsilon=0.1), ctx)
        assert marker not in str(info.value)


def test_overspend_is_refused_before_running(fresh_home: Callable[[], Settings]) -> None:
    settings = fresh_home()
    context = open_context(settings)
    small = dataclasses.replace(context.projects["demo"], epsilon=1.0, member_epsilon=None)
    context = dataclasses.replace(context, projects={**context.projects, "demo": small})
    answer(_ask("SELECT COUNT(*) AS n FROM claims", epsilon=0.8), context)
    with pytest.raises(BudgetExhausted) as info:
        answer(_ask("SELECT COUNT(*) AS n FROM persons", epsilon=0.8), context)
    assert "remaining" in str(info.value).lower() and "requested" in str(info.value).lower()
    assert _spent(context) == pytest.approx(0.8)
    context.engine.close()


def test_crash_between_execute_and_commit_releases_nothing(
    fresh_home: Callable[[], Settings],
) -> None:
    settings = fresh_home()
    context = open_context(settings)
    store = context.store

    class Crash(RuntimeError):
        pass

    def boom(*args: object, **kwargs: object) -> None:
        raise Crash("power cut")

    sql = "SELECT setting, COUNT(*) AS n FROM claims GROUP BY setting"
    broken = dataclasses.replace(context, store=_Proxy(store, commit=boom))
    with pytest.raises(InternalError):
        answer(_ask(sql, epsilon=0.4), broken)
    # the charge stands (conservative), nothing is cached, the audit chain holds
    assert _spent(context) == pytest.approx(0.4)
    from enclave.gateway.pipeline import cache_key  # noqa: F401  (the key is internal)

    fresh = answer(_ask(sql, epsilon=0.4), context)
    assert not fresh.cached
    assert store.audit_log.verify().ok
    context.engine.close()


def test_dry_run_spends_nothing(ctx: GatewayContext) -> None:
    before = _spent(ctx)
    est = dry_run(
        _ask("SELECT setting, SUM(amount) AS total FROM claims GROUP BY setting", epsilon=0.5), ctx
    )
    assert _spent(ctx) == pytest.approx(before)
    assert "budget_remaining" in est


class _Proxy:
    """A store whose named methods are replaced; everything else passes through."""

    def __init__(self, inner: object, **overrides: object) -> None:
        self._inner = inner
        self._overrides = overrides

    def __getattr__(self, name: str) -> object:
        if name in self._overrides:
            return self._overrides[name]
        return getattr(self._inner, name)
