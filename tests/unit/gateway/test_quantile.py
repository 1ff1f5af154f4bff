"""MEDIAN / QUANTILE_CONT: the bounded histogram matches pandas, bounds hold, intervals cover."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from enclave.engines.hashing import query_salt
from enclave.gateway.release.losses import Losses
from enclave.gateway.release.quantiles import release_quantiles
from enclave.gateway.sql.quantile import grid
from enclave.gateway.sql.rewrite import quantile_queries
from enclave.gateway.values import Aggregate, Plan
from tests._warehouse import build, context, front, heavy_context, planned, run


def _slots(values: pd.Series, lo: float, hi: float) -> pd.Series:
    return values.astype(float).map(grid(lo, hi).slot).astype(int)


@pytest.fixture(scope="module")
def wh(tmp_path_factory):
    d = tmp_path_factory.mktemp("wh")
    return build(d / "w.duckdb", persons=400), d


def test_histogram_matches_pandas_when_no_bound_binds(wh):
    ctx = context(*wh, rows_per_person=1000, groups_per_person=4)
    state = planned("SELECT setting, median(los_days) AS m FROM claims GROUP BY setting", ctx)
    (sql,) = quantile_queries(state.plan, ctx.dataset, "s").values()
    got = {(r[0], r[1]): r[2] for r in ctx.engine.execute(sql)[1]}
    cols, rows = ctx.engine.execute("SELECT setting, los_days FROM claims")
    df = pd.DataFrame(rows, columns=list(cols)).dropna()
    g = grid(0.0, 60.0)
    assert (g.kind, g.lo, g.step, g.size) == ("even", 0.0, 1.0, 61)
    df["slot"] = _slots(df.los_days.clip(0, 60).astype(float), 0.0, 60.0)
    want = df.groupby(["setting", "slot"]).size().to_dict()
    assert got == want


def test_heavy_person_bounded_and_not_smallest_first(tmp_path):
    ctx = heavy_context(tmp_path, rows_per_person=10, groups_per_person=2)
    state = planned("SELECT setting, median(amount) AS m FROM claims GROUP BY setting", ctx)
    picked = []
    for salt in ("a", "b", "c"):
        (sql,) = quantile_queries(state.plan, ctx.dataset, query_salt(salt)).values()
        rows = ctx.engine.execute(sql)[1]
        assert sum(r[2] for r in rows) == 10  # rows per person
        assert len({r[0] for r in rows}) <= 2  # groups per person
        picked.append(sorted(r[1] for r in rows for _ in range(r[2])))
    _, amounts = ctx.engine.execute("SELECT amount FROM claims ORDER BY amount LIMIT 10")
    smallest = sorted(_slots(pd.Series([a for (a,) in amounts]).clip(0, 20000), 0.0, 20000.0))
    assert any(p != smallest for p in picked) and len({tuple(p) for p in picked}) > 1


def test_median_release_through_the_stages(wh):
    ctx = context(*wh, rows_per_person=20)
    state = run(
        front(
            "SELECT setting, median(los_days) AS m FROM claims GROUP BY setting", ctx, epsilon=1.0
        ),
        ctx,
    )
    cols = state.release.columns
    assert cols == ("setting", "m", "m_se", "m_ci_low", "m_ci_high")
    for row in state.release.rows:
        _, m, se, low, high = row
        assert 0 <= low <= m <= high <= 60 and se >= 0
    split = state.plan.epsilon_split
    assert split["a0"] == pytest.approx(3 * split["a0.count"])
    assert sum(split.values()) == pytest.approx(1.0)
    assert state.release.mechanisms["a0"]["d_in"] == 20


def _plan(q: float, lo: float, hi: float, eps: float) -> tuple[Aggregate, Plan]:
    agg = Aggregate("m", "quantile", "__a0", lo, hi, quantile=q, id="a0")
    split = {"a0": eps / 2, "a0.count": eps / 6, "a0.ci_low": eps / 6, "a0.ci_high": eps / 6}
    return agg, Plan("", "__pid", (), (agg,), 5, 1, eps, 0.0, split, ("m",))


@pytest.mark.parametrize(
    ("q", "lo", "hi", "draw"),
    [
        (0.5, 0.0, 60.0, lambda rng: rng.integers(0, 40, 3000).astype(float)),
        (0.9, 0.0, 20000.0, lambda rng: np.minimum(rng.lognormal(6, 1.2, 3000), 20000)),
    ],
)
def test_quantile_interval_covers(q, lo, hi, draw):
    rng = np.random.default_rng(3)
    values = draw(rng)
    g = grid(lo, hi)
    slots = _slots(pd.Series(values), lo, hi).value_counts()
    hist = [(int(s), int(c)) for s, c in slots.items()]
    truth = float(np.quantile(values, q))
    agg, p = _plan(q, lo, hi, 1.0)
    losses = Losses()
    runs = [release_quantiles(agg, p, hist, [()], 5, losses.recorder)[0][()] for _ in range(150)]
    est = np.array([r[0] for r in runs])
    cover = np.mean([r[2] <= truth <= r[3] for r in runs])
    assert cover >= 0.93
    step = g.step if g.kind == "even" else (g.step - 1) * truth  # spacing near the truth
    assert np.median(np.abs(est - truth)) <= max(3 * step, 0.05 * truth)
    assert all(r[2] <= r[0] <= r[3] for r in runs)


def test_geometric_slots_in_sql_match_python(wh):
    """The engine's slot of a value is the one the release reads back (and tests use)."""
    ctx = context(*wh, rows_per_person=1000)
    g = grid(0.0, 10_240_000.0)
    assert g.kind == "geometric"
    values = [0.0, 1e-3, 10.23, 10.24, 10.25, 999.5, 6000.0, 123456.7, 10_239_999.0, 10_240_000.0]
    sql = " UNION ALL ".join(
        f"SELECT {i} AS i, {g.slot_sql(repr(v))} AS s" for i, v in enumerate(values)
    )
    got = dict(ctx.engine.execute(sql)[1])
    assert [got[i] for i in range(len(values))] == [g.slot(v) for v in values]
    # a slot's candidate is within one step below the value
    for v in values[3:-1]:
        assert g.value(g.slot(v)) <= v <= g.value(g.slot(v)) * g.step * 1.000001


def test_median_of_a_wide_range_is_found_to_about_one_step(wh):
    rng = np.random.default_rng(5)
    values = rng.lognormal(8.7, 1.0, 4000)  # median ~6,000 on [0, 10.24M]
    hist = [
        (int(s), int(c))
        for s, c in _slots(pd.Series(values), 0.0, 10_240_000.0).value_counts().items()
    ]
    agg, p = _plan(0.5, 0.0, 10_240_000.0, 1.0)
    est = release_quantiles(agg, p, hist, [()], 5, Losses().recorder)[0][()][0]
    truth = float(np.median(values))
    assert abs(est - truth) <= 0.05 * truth
