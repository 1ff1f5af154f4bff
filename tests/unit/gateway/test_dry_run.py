"""The dry run matches the run: half-widths as released, for fixed, structural and "auto"
rows bounds and for half_width asks; AVG in the average's units; refusals said ahead.

Tolerance: a COUNT or SUM interval is ``estimate ± half-width`` with the half-width at the
noise scale OpenDP's privacy map was fitted to, which may sit up to 60 steps of 1e-6 above
the planned ``sensitivity / ε`` (``noise._mechanisms.fitted``): within ``REL`` = 1e-4.
An AVG interval depends on the noisy count and sum it divides; the preview at the group's
exact count and average is within ``AVG_REL`` = 2% of it, plus twice the count's noise
(97.5% half-width) relative to the count.
"""

from __future__ import annotations

import dataclasses
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from enclave.gateway import GatewayContext, QueryRequest, answer, dry_run
from enclave.gateway.plan.planner import plan
from enclave.gateway.release.dry_run import average_half_width, dry_run_of
from enclave.noise import half_width
from enclave.service import open_context
from enclave.settings import Settings
from tests._warehouse import context, front, run

REL, AVG_REL = 1e-4, 0.02
USER = "researcher@demo"
J = "FROM claims c JOIN persons p ON p.person_id = c.person_id"


@pytest.fixture(scope="module")
def home(built_home: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("dry-run")
    shutil.copytree(built_home, out, dirs_exist_ok=True)
    return out


@pytest.fixture(scope="module")
def ctx(home: Path) -> Iterator[GatewayContext]:
    c = open_context(Settings(home=home))
    demo = dataclasses.replace(c.projects["demo"], epsilon=1e6, member_epsilon=None)
    yield dataclasses.replace(c, projects={**c.projects, "demo": demo})
    c.engine.close()


def _half(release, column: str, row: int = 0) -> float:
    cols = list(release.columns)
    r = release.rows[row]
    return (r[cols.index(f"{column}_ci_high")] - r[cols.index(f"{column}_ci_low")]) / 2


def _unclipped(release, column: str) -> list[int]:
    """Rows whose count interval is not cut at zero (a count is ≥ 0; the cut is narrower)."""
    at = list(release.columns).index(f"{column}_ci_low")
    found = [i for i, r in enumerate(release.rows) if r[at] > 0]
    assert found, "every interval was cut at zero"
    return found


def _ask(sql: str, **kw: float) -> QueryRequest:
    return QueryRequest(sql=sql, project="demo", user=USER, **kw)


def test_fixed_bound_preview_is_the_released_half_width(home: Path) -> None:
    ctx = context(Settings(home=home).warehouse_path, home, rows_per_person=8)
    sql = "SELECT COUNT(*) AS n, SUM(los_days + 100) AS s FROM claims"  # a fixed clamp
    est = dry_run_of(plan(front(sql, ctx, epsilon=0.5), ctx), ctx)
    release = run(front(sql, ctx, epsilon=0.5), ctx).release
    assert est.rows_bound == "policy" and est.rows_per_person == 8
    assert _half(release, "n") == pytest.approx(est.half_widths["n"], rel=REL)
    assert _half(release, "s") == pytest.approx(est.half_widths["s"], rel=REL)
    assert not est.by_rows_bound and not est.half_width_ranges and not est.by_clamp


def test_auto_clamp_preview_gives_the_half_width_at_every_clamp(home: Path) -> None:
    ctx = context(Settings(home=home).warehouse_path, home, rows_per_person=8)
    sql = "SELECT COUNT(*) AS n, SUM(amount) AS s FROM claims"
    est = dry_run_of(plan(front(sql, ctx, epsilon=0.5), ctx), ctx)
    release = run(front(sql, ctx, epsilon=0.5), ctx).release
    chosen = release.mechanisms["a1.clamp"]["clamp"]
    # a SUM clamps each (person, group)'s total; its rows keep the policy's bound
    assert release.bounds["group_total_clamps"]["s"] == chosen
    assert release.bounds["clamps"]["s"] == [0.0, 5e6]
    widths = est.by_clamp["s"]
    # a sum's interval is cut at 0 (it cannot be negative): then it is narrower
    low = release.rows[0][list(release.columns).index("s_ci_low")]
    if low > 0:
        assert _half(release, "s") == pytest.approx(widths[f"{chosen:g}"], rel=REL)
    else:
        assert _half(release, "s") <= widths[f"{chosen:g}"] * (1 + REL)
    assert est.half_widths["s"] == max(widths.values()) == widths["2.56e+09"]
    assert est.half_width_ranges["s"] == (min(widths.values()), max(widths.values()))
    assert list(widths.values()) == sorted(widths.values())


def test_structural_bound_preview_is_exact(ctx: GatewayContext) -> None:
    sql = "SELECT region, COUNT(*) AS n FROM persons GROUP BY region"
    est = dry_run(_ask(sql, epsilon=0.41), ctx)
    release = answer(_ask(sql, epsilon=0.41), ctx)
    assert est["rows_bound"].startswith("structural") and est["rows_per_person"] == 1
    assert "rows_bound" not in est["epsilon_split"]
    for i in _unclipped(release, "n"):
        assert _half(release, "n", i) == pytest.approx(est["half_widths"]["n"], rel=REL)


def test_auto_preview_gives_the_half_width_at_the_bound_the_run_chooses(
    ctx: GatewayContext,
) -> None:
    sql = "SELECT setting, COUNT(*) AS n FROM claims GROUP BY setting"
    est = dry_run(_ask(sql, epsilon=0.42), ctx)
    release = answer(_ask(sql, epsilon=0.42), ctx)
    c = release.bounds["rows_per_person"]
    assert est["rows_per_person"] == ctx.dataset.contribution.auto_max_rows
    assert str(c) in est["by_rows_bound"]
    low, high = est["half_width_ranges"]["n"]
    assert low <= est["by_rows_bound"][str(c)]["n"] <= high == est["half_widths"]["n"]
    for i in _unclipped(release, "n"):
        assert _half(release, "n", i) == pytest.approx(est["by_rows_bound"][str(c)]["n"], rel=REL)


def test_a_half_width_ask_fits_the_cap_and_the_release_keeps_it(ctx: GatewayContext) -> None:
    """The accuracy-first example: 500 at the 512-row worst case needed ε ≈ 3.4 > 1."""
    sql = "SELECT COUNT(*) AS n FROM claims WHERE setting = 'inpatient'"
    est = dry_run(_ask(sql, half_width=500.0), ctx)
    assert 0 < est["epsilon"] <= ctx.projects["demo"].max_epsilon_per_query
    assert est["rows_per_person"] < ctx.dataset.contribution.auto_max_rows
    assert est["half_widths"]["n"] <= 500.0 * (1 + 1e-9)
    release = answer(_ask(sql, half_width=500.0), ctx)
    assert release.epsilon_spent == pytest.approx(est["epsilon"])
    assert release.bounds["rows_per_person"] <= est["rows_per_person"]
    assert _half(release, "n") <= 500.0 * (1 + REL)


def test_avg_preview_is_in_the_average_units(ctx: GatewayContext) -> None:
    sql = f"SELECT p.sex, AVG(c.amount) AS m {J} GROUP BY p.sex"
    est = dry_run(_ask(sql, epsilon=0.43), ctx)
    assert not any(k.startswith("m ") or k == "m" for k in est["half_widths"])
    table = est["average_half_widths"]["m"]
    assert table["rows"] == [100, 1_000, 10_000, 100_000]
    assert set(table["by_rows_bound"]) == set(est["by_rows_bound"])  # every bound it may use
    for c, widths in table["by_rows_bound"].items():
        assert widths == sorted(widths, reverse=True) and widths[-1] < widths[0], c
        assert table["released_from_rows"][c] > 1
    # the agreement, where the interval is not cut by the value bounds: birth years of the
    # persons of each sex (one row per person, an average far inside [1900, 2026])
    sql = "SELECT sex, AVG(birth_year) AS m FROM persons GROUP BY sex"
    state = run(front(sql, ctx, epsilon=1.0), ctx)
    release, p = state.release, state.plan
    cols, agg = list(release.columns), p.aggregates[0]
    count_scale = release.mechanisms["a0.count"]["scale"]
    checked = 0
    for i, r in enumerate(release.rows):
        if r[cols.index("m")] is None:
            continue
        n, total = _exact_count_and_sum(state, r[0])
        want = average_half_width(p, agg, int(p.rows_per_person), n, total / n)
        # the released interval divides the noisy totals: off by about the count's noise
        tolerance = AVG_REL + 2 * half_width(count_scale, discrete=True, alpha=0.025) / n
        assert _half(release, "m", i) == pytest.approx(want, rel=tolerance)
        checked += 1
    assert checked


def _exact_count_and_sum(state, key) -> tuple[float, float]:
    """A group's exact bounded row count and sum (what the noisy ones estimate)."""
    from enclave.gateway.plan.pieces import exact_values, plan_pieces

    p = state.plan
    sql_pieces = [x for x in plan_pieces(p.aggregates, p.epsilon_split) if x.in_sql]
    at = {x.id: i for i, x in enumerate(sql_pieces)}
    row = next(r for r in state.exact.rows if r[0] == key)
    values = exact_values(p.aggregates, p.epsilon_split, row[len(p.keys) :])
    return values[at["a0.count"]], values[at["a0.sum"]]


def test_a_dry_run_says_when_the_run_would_be_refused(ctx: GatewayContext) -> None:
    sql = "SELECT COUNT(*) AS n FROM claims WHERE setting = 'emergency'"
    assert dry_run(_ask(sql, epsilon=0.44), ctx)["refusal"] is None
    small = dataclasses.replace(ctx.projects["demo"], epsilon=0.0, member_epsilon=None)
    broke = dataclasses.replace(ctx, projects={**ctx.projects, "demo": small})
    said = dry_run(_ask(sql, epsilon=0.44), broke)["refusal"]
    assert said["type"] == "BudgetExhausted" and "Would be refused" in said["message"]
    answer(_ask(sql, epsilon=0.45), ctx)
    cached = dry_run(_ask(sql, epsilon=0.45), broke)  # the same release again costs nothing
    assert cached["cached"] is True and cached["refusal"] is None
