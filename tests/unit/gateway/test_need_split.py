"""ε split by need once an "auto" rows bound is chosen (``release.need``).

The shares move between aggregates (and between an AVG's sum and count), never out of
them: the query's ε and ρ, the rows bound's and key selection's shares, and each
aggregate's own pieces' proportions stay; the ε OpenDP records for every piece equals its
new share (the pipeline's privacy-loss check), and a half_width ask keeps the equal split.
"""

from __future__ import annotations

import dataclasses

import pytest

from enclave.gateway.execute import execute
from enclave.gateway.pipeline import _check_privacy_loss
from enclave.gateway.plan.planner import plan
from enclave.gateway.release.bound import choose_bound
from enclave.gateway.release.need import (
    AVG_SUM_RATIO,
    MAX_NEED_RATIO,
    MAX_SUM_RATIO,
    by_need,
    shares,
    sum_count_ratio,
)
from enclave.gateway.sql.rewrite import rewrite
from enclave.gateway.values import Aggregate, Plan
from enclave.noise import RowsChoice, ValueHistogram
from tests._warehouse import build, context, front, run

SQL = (
    "SELECT COUNT(*) AS n, COUNT(DISTINCT person_id) AS d, AVG(los_days) AS m FROM claims "
    "WHERE setting = 'outpatient'"
)


@pytest.fixture(scope="module")
def ctx(tmp_path_factory):
    d = tmp_path_factory.mktemp("need")
    return context(build(d / "w.duckdb", persons=800), d)


def _bounded(ctx, sql, **ask):
    state = rewrite(plan(front(sql, ctx, **ask), ctx), ctx)
    return state.plan, choose_bound(execute(state, ctx), ctx).plan


def test_shares_follow_need_within_the_ratio():
    out = shares({"a": 1.0, "b": 8.0, "c": 1e-9}, 3.0)
    assert sum(out.values()) == pytest.approx(3.0)
    assert out["b"] / out["a"] == pytest.approx(8.0 ** (2 / 3))
    assert out["b"] / out["c"] == pytest.approx(MAX_NEED_RATIO)


def test_a_split_by_need_keeps_every_total(ctx):
    before, after = _bounded(ctx, SQL, epsilon=1.0)
    assert before.rows_per_person == "auto" and isinstance(after.rows_per_person, int)
    e0, e1 = before.epsilon_split, after.epsilon_split
    assert sum(e1.values()) == pytest.approx(sum(e0.values())) == pytest.approx(1.0)
    assert e1["rows_bound"] == e0["rows_bound"]
    ratio = e1["a2.sum"] / e1["a2.count"]  # from the clamp's histogram (tests below)
    assert 1 / MAX_SUM_RATIO <= ratio <= MAX_SUM_RATIO
    if after.rows_per_person > 1:  # a person counts once in d, c times in n
        assert e1["a1"] < e1["a0"] < e1["a2.sum"] + e1["a2.count"]


def test_a_half_width_ask_keeps_the_equal_split(ctx):
    sql = "SELECT COUNT(*) AS n, COUNT(DISTINCT person_id) AS d FROM claims"
    before, after = _bounded(ctx, sql, epsilon=None, half_width=400.0)
    assert dict(after.epsilon_split) == dict(before.epsilon_split)


def test_the_release_states_the_split_it_ran_at(ctx):
    """Every loss OpenDP recorded is the piece's new share (``_check_privacy_loss`` raises
    otherwise), and the release states that split."""
    state = run(front(SQL, ctx, epsilon=0.8), ctx)
    _check_privacy_loss(state)
    split = state.release.mechanisms["epsilon_split"]
    assert dict(split) == dict(state.plan.epsilon_split)
    assert sum(split.values()) == pytest.approx(0.8)
    assert 1 / MAX_SUM_RATIO <= split["a2.sum"] / split["a2.count"] <= MAX_SUM_RATIO
    ran = {m.piece: m.epsilon for m in state.measurements}
    for piece, eps in ran.items():
        assert eps == pytest.approx(split[piece], rel=1e-6)


def test_the_dry_run_says_the_split_will_move(ctx):
    """The preview shows the planned equal split and says when the release will move it."""
    from enclave.gateway.release.dry_run import NEED_NOTE, dry_run_of

    moving = dry_run_of(plan(front(SQL, ctx, epsilon=1.0), ctx), ctx)
    assert NEED_NOTE in moving.notes
    one = "SELECT COUNT(*) AS n FROM claims"
    assert NEED_NOTE not in dry_run_of(plan(front(one, ctx, epsilon=1.0), ctx), ctx).notes
    asked = plan(front(SQL, ctx, epsilon=None, half_width=400.0), ctx)
    assert NEED_NOTE not in dry_run_of(asked, ctx).notes


# A plan of a COUNT(*) and a group-clamped AVG of a 0/1 flag (the clamp T on each kept
# person's total), at rows bound 4 chosen from a rows histogram of 1,000 persons with 1 row
# and 100 with 4 (R = 1,400 kept rows): the AVG's sum has relative noise
# a = min(g, c)·T / (K·m) for K (person, group)s of mean clamped total m.
COUNT = Aggregate("n", "count", None, id="a0")
FLAG = Aggregate("r", "avg", "x", 0.0, 1.0, id="a1", group_upper=2.0)
SPLIT = {"rows_bound": 0.1, "a0": 0.3, "a1.clamp": 0.06, "a1.sum": 0.3, "a1.count": 0.24}
CHOICE = RowsChoice(4, (1, 2, 4), (1000, 0, 100), 10.0, 0.0, False, (1000.0, 0.0, 100.0))


def _plan() -> Plan:
    return Plan("", "__pid", (), (COUNT, FLAG), 4, 1, 1.0, 0.0, SPLIT, ("n", "r"))


def _histogram(mean_total: float) -> ValueHistogram:
    """1,100 kept (person, group)s, every one in the bin whose midpoint is its total."""
    lo = mean_total * 0.8
    return ValueHistogram((lo, mean_total * 1.2, 100.0), (0, 0, 0), 1.0, (1100.0, 0.0, 0.0))


def _after(mean_total: float) -> dict[str, float]:
    seen = {"a1": (2.0, _histogram(mean_total))}
    return dict(by_need(_plan(), CHOICE, half_width=False, seen=seen).epsilon_split)


def test_a_group_clamped_avg_splits_by_what_its_histogram_saw():
    rare = _after(0.05)  # a rare flag: the sum's noise dwarfs the count's
    m = _histogram(0.05).mean(2.0)
    a, b = 1 * 2.0 / (1100 * m), 4 / 1400
    assert rare["a1.sum"] / rare["a1.count"] == pytest.approx(sum_count_ratio(a / b, False))
    assert rare["a1.sum"] / rare["a1.count"] == pytest.approx((a / b) ** (2 / 3))
    common = _after(1.5)
    assert common["a1.sum"] / common["a1.count"] < rare["a1.sum"] / rare["a1.count"]
    # the rarer the flag, the more of the query's ε its average gets from the count
    assert rare["a1.sum"] + rare["a1.count"] > common["a1.sum"] + common["a1.count"]
    assert rare["a0"] < common["a0"]


def test_the_split_after_the_clamps_moves_no_spent_piece():
    for mean_total in (0.05, 0.5, 1.5):
        after = _after(mean_total)
        assert after["rows_bound"] == SPLIT["rows_bound"]
        assert after["a1.clamp"] == SPLIT["a1.clamp"]
        assert sum(after.values()) == pytest.approx(sum(SPLIT.values()))


def test_without_a_histogram_an_avg_keeps_the_half_bound_ratio():
    open_clamp = dataclasses.replace(FLAG, clamps=(1.0, 2.0, 5.0))
    plan = dataclasses.replace(_plan(), aggregates=(COUNT, open_clamp))
    before = dict(by_need(plan, CHOICE, half_width=False).epsilon_split)
    assert before["a1.sum"] / before["a1.count"] == pytest.approx(AVG_SUM_RATIO)
    # before the clamp is chosen its histogram's share moves with its aggregate's
    both = before["a1.sum"] + before["a1.count"]
    assert before["a1.clamp"] / both == pytest.approx(SPLIT["a1.clamp"] / 0.54)
    assert sum(before.values()) == pytest.approx(sum(SPLIT.values()))
