"""The one-pass "auto" query: its histogram and its totals at any c equal the two-pass ones."""

from __future__ import annotations

import dataclasses

import pytest

from enclave.engines.hashing import query_salt
from enclave.gateway.execute import execute
from enclave.gateway.plan.contribution import NO_ROWS_BOUND
from enclave.gateway.plan.planner import plan
from enclave.gateway.release.bound import choose_bound
from enclave.gateway.sql.auto import histogram, totals_at
from enclave.gateway.sql.bounded import KEPT_STATS, as_stat, auto_bound_sql
from enclave.gateway.sql.rewrite import auto_query, bounded_query, key_filters, rewrite
from enclave.gateway.sql.stats import piece_stats
from tests._warehouse import build, context, front

JOIN = "FROM claims c JOIN persons p ON p.person_id = c.person_id"
QUERIES = [
    "SELECT count(*) AS n, sum(amount) AS s FROM claims",
    f"SELECT p.region, count(*) AS n, avg(c.amount) AS a {JOIN} GROUP BY p.region",
    "SELECT setting, sum(least(amount, 500)) AS s, count(DISTINCT person_id) AS d "
    "FROM claims GROUP BY setting",
    "SELECT date_trunc('month', visit_date) AS m, count(*) AS n, stddev(los_days) AS sd "
    "FROM claims WHERE icd10 IS NOT NULL GROUP BY 1",
    "SELECT icd10, count(*) AS n FROM claims GROUP BY icd10",
    f"SELECT p.sex, c.setting, count(*) AS n {JOIN} GROUP BY p.sex, c.setting",
    # group-clamped SUMs beside a count: (person, group) totals kept at c, every candidate
    "SELECT setting, count(*) AS n, sum(amount) AS s FROM claims GROUP BY setting",
    f"SELECT p.region, count(*) AS n, sum(c.amount) AS s {JOIN} GROUP BY p.region",
]


@pytest.fixture(scope="module")
def ctx(tmp_path_factory):
    d = tmp_path_factory.mktemp("wh")
    return context(build(d / "w.duckdb", persons=500), d, groups_per_person=2)


def _same(a, b):
    a, b = sorted(a, key=repr), sorted(b, key=repr)
    assert [len(r) for r in a] == [len(r) for r in b]
    for x, y in zip(a, b, strict=True):
        for u, v in zip(x, y, strict=True):
            if isinstance(u, float) or isinstance(v, float):
                assert u == pytest.approx(v, rel=1e-9, abs=1e-9)
            else:
                assert u == v


@pytest.mark.parametrize("sql", QUERIES)
def test_one_pass_equals_histogram_and_bounded_sql(ctx, sql):
    state = plan(front(sql, ctx, epsilon=1.0), ctx)
    p = state.plan
    assert p.rows_per_person == "auto"
    cap = ctx.dataset.contribution.auto_max_rows
    _, both = ctx.engine.execute(auto_query(p, ctx.dataset, "salt"))
    _, hist = ctx.engine.execute(auto_bound_sql(p.relation_sql, key_filters(p, ctx.dataset), cap))
    counts, persons = histogram(both, len(p.keys))
    assert sorted(zip(counts, persons, strict=True)) == sorted(hist)
    stats = piece_stats(p.aggregates, p.epsilon_split)
    # an AVG's clamped share of kept rows is not additive over a bucket: the bounded SQL
    # reads it at the chosen c (``release.bound``), the one pass leaves it 0
    nk = len(p.keys)
    later = {nk + i for i, st in enumerate(stats) if as_stat(st).stat in KEPT_STATS}

    def masked(rows):
        return [tuple(0 if j in later else v for j, v in enumerate(r)) for r in rows]

    for c in (1, 2, 3, 7, 40, cap):
        fixed = dataclasses.replace(p, rows_per_person=c)
        _, want = ctx.engine.execute(bounded_query(fixed, ctx.dataset, "salt"))
        got = totals_at(both, n_keys=nk, stats=stats, c=c)
        assert all(r[j] == 0 for r in got for j in later)
        _same(got, masked(want))


def test_choose_bound_chooses_and_records_the_bound(ctx):
    state = rewrite(plan(front(QUERIES[1], ctx, epsilon=1.0), ctx), ctx)
    assert state.plan.rows_per_person == "auto"
    state = choose_bound(execute(state, ctx), ctx)
    c = state.plan.rows_per_person
    assert isinstance(c, int) and 1 <= c <= ctx.dataset.contribution.auto_max_rows
    assert any("auto" in n for n in state.plan.notes)


def test_an_auto_clamp_is_read_before_an_auto_rows_bound_and_chosen_after_it(ctx):
    """With both open, the value histogram is read at rows bound 1 (sensitivity 1), the
    rows bound is chosen knowing what each bound costs the clamped sum, and the clamp is
    chosen at that bound: one measurement each, the plan's aggregate fixed at its clamp."""
    sql = f"SELECT p.region, count(*) AS n, stddev(c.amount) AS a {JOIN} GROUP BY p.region"
    state = rewrite(plan(front(sql, ctx, epsilon=1.0), ctx), ctx)
    (agg,) = [a for a in state.plan.aggregates if a.clamps]
    assert agg.group_upper is None  # STDDEV clamps each row
    bounded = choose_bound(execute(state, ctx), ctx)
    pieces = sorted(m.piece for m in bounded.measurements)
    assert pieces == ["a1.clamp", "rows_bound"]
    (fixed,) = [a for a in bounded.plan.aggregates if a.id == agg.id]
    choice = bounded.clamp_choices["a1.clamp"]
    assert not fixed.clamps and fixed.upper == choice["clamp"] in agg.clamps
    assert "sensitivity 1 rows" in choice["mechanism"]
    n_plain = len(piece_stats(bounded.plan.aggregates, bounded.plan.epsilon_split))
    assert all(len(r) == 1 + n_plain for r in bounded.exact.rows)  # chosen columns only


def test_an_average_clamps_the_share_it_keeps_read_in_a_second_pass(ctx):
    """An AVG clamps each kept (person, group)'s share of its rows (the rows its count
    sees); that is not additive over a bucket, so the bounded SQL at the chosen c gives it:
    the release's exact totals are then the bounded SQL's at c, every column."""
    state = rewrite(plan(front(QUERIES[1], ctx, epsilon=1.0), ctx), ctx)
    (agg,) = [a for a in state.plan.aggregates if a.kind == "avg"]
    assert agg.group_upper is not None and agg.clamps
    bounded = choose_bound(execute(state, ctx), ctx)
    (fixed,) = [a for a in bounded.plan.aggregates if a.id == agg.id]
    assert fixed.group_upper == bounded.clamp_choices["a1.clamp"]["clamp"]
    _, want = ctx.engine.execute(
        bounded_query(bounded.plan, ctx.dataset, query_salt(state.normalized_sql))
    )
    _same(bounded.exact.rows, want)


def test_a_group_clamp_is_read_at_the_chosen_rows_bound(ctx):
    """A SUM's (person, group) totals do not scale with the rows bound: its histogram is read
    after c is chosen, at sensitivity min(g, c) (person, group)s, and the plan's SUM is then
    fixed at the chosen total clamp (its rows keep the policy's bound)."""
    sql = "SELECT setting, count(*) AS n, sum(amount) AS s FROM claims GROUP BY setting"
    state = rewrite(plan(front(sql, ctx, epsilon=1.0), ctx), ctx)
    (agg,) = [a for a in state.plan.aggregates if a.clamps]
    assert agg.group_upper == agg.clamps[-1]
    bounded = choose_bound(execute(state, ctx), ctx)
    assert sorted(m.piece for m in bounded.measurements) == ["a1.clamp", "rows_bound"]
    (fixed,) = [a for a in bounded.plan.aggregates if a.id == agg.id]
    choice = bounded.clamp_choices["a1.clamp"]
    assert not fixed.clamps and fixed.group_upper == choice["clamp"] in agg.clamps
    assert fixed.upper == agg.upper
    c = bounded.plan.rows_per_person
    g = min(bounded.plan.groups_per_person, c)
    assert choice["applies_to"] == "(person, group) totals"
    assert f"sensitivity {g} (person, group)s" in choice["mechanism"]


def test_a_sum_alone_needs_no_rows_bound(ctx):
    """Only group-clamped SUMs (and COUNT(DISTINCT person)): nothing depends on c, so no
    ε goes to choosing it and every row of a kept group counts."""
    sql = f"SELECT p.region, sum(c.amount) AS s, count(DISTINCT c.person_id) AS d {JOIN} GROUP BY 1"
    p = plan(front(sql, ctx, epsilon=1.0), ctx).plan
    assert p.rows_per_person == NO_ROWS_BOUND and "rows_bound" not in p.epsilon_split
    assert p.groups_per_person == 1
