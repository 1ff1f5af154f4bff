"""rewrite + execute + add_noise: bounds hold, exact bounded answers match pandas, keys."""

from __future__ import annotations

import dataclasses

import pandas as pd
import pytest

from enclave.engines.hashing import query_salt
from enclave.gateway.plan.pieces import exact_values, plan_pieces
from enclave.gateway.plan.planner import plan
from enclave.gateway.release.dry_run import dry_run_of
from enclave.gateway.sql.rewrite import bounded_query, rewrite
from enclave.gateway.values import Requested
from tests._warehouse import build, context, front, heavy_context, planned, run

C, G = 3, 2
JOIN = "FROM claims c JOIN persons p ON p.person_id = c.person_id"


@pytest.fixture(scope="module")
def wh(tmp_path_factory):
    d = tmp_path_factory.mktemp("wh")
    return build(d / "w.duckdb", persons=800), d


@pytest.fixture(scope="module")
def ctx(wh):
    return context(*wh, rows_per_person=C, groups_per_person=G)


@pytest.fixture(scope="module")
def frames(ctx):
    def df(table):
        cols, rows = ctx.engine.execute(f"SELECT * FROM {table}")
        return pd.DataFrame(rows, columns=list(cols))

    return df("claims"), df("persons")


def _exact(sql, ctx, **kw):
    state = front(sql, ctx, epsilon=1.0, **kw)
    for stage in (plan, rewrite):
        state = stage(state, ctx)
    _, rows = ctx.engine.execute(state.rewritten_sql)
    p = state.plan
    nk = len(p.keys)
    plain = nk + _plain(p)  # the totals at each clamp's largest candidate come first
    values = [(*r[:nk], *exact_values(p.aggregates, p.epsilon_split, r[nk:plain])) for r in rows]
    return state, values


def _plain(p):
    return sum(1 for q in plan_pieces(p.aggregates, p.epsilon_split) if q.in_sql)


def test_exact_bounded_count_and_sum_match_pandas(ctx, frames):
    claims, persons = frames
    _, rows = _exact(
        f"SELECT p.region, count(*) AS n, sum(least(c.amount, 500)) AS s {JOIN} "
        "WHERE c.setting = 'outpatient' GROUP BY p.region",
        ctx,
    )
    got = {r[0]: (r[1], r[2]) for r in rows}
    df = claims[claims.setting == "outpatient"].merge(persons, on="person_id")
    df["v"] = df.amount.clip(0, 500)
    per = df.groupby(["person_id", "region"]).agg(n=("v", "size"), s=("v", "sum")).reset_index()
    per["w"] = per.n.clip(upper=C)
    per["bs"] = per.w * per.s / per.n
    want = per.groupby("region").agg(n=("w", "sum"), s=("bs", "sum"))
    assert set(got) == set(want.index)
    for region, row in want.iterrows():
        assert got[region][0] == row.n
        assert got[region][1] == pytest.approx(row.s, rel=1e-9)


def test_ungrouped_distinct_and_avg_parts_match_pandas(ctx, frames):
    claims, _ = frames
    _, rows = _exact(
        "SELECT count(DISTINCT person_id) AS persons, avg(los_days) AS los FROM claims "
        "WHERE icd10 LIKE 'E11%'",
        ctx,
    )
    df = claims[claims.icd10.fillna("").str.startswith("E11")].copy()
    df["v"] = df.los_days.clip(0, 60)
    per = df.groupby("person_id").agg(n=("v", "size"), s=("v", "sum"))
    w = per.n.clip(upper=C)
    ((persons, los_sum, los_n),) = rows
    assert persons == len(per)
    assert los_sum == pytest.approx((w * per.s / per.n).sum())
    assert los_n == pytest.approx(w.sum())


def _heavy_plan(tmp_path, sql, groups_per_person):
    """The one-heavy-person context, at most 10 rows a person, and ``sql`` planned at ε 1."""
    ctx = heavy_context(tmp_path, rows_per_person=10, groups_per_person=groups_per_person)
    return ctx, planned(sql, ctx, epsilon=1.0)


@pytest.mark.parametrize("strategy", ["preagg", "window"])
def test_heavy_person_is_bounded(tmp_path, strategy):
    ctx, state = _heavy_plan(
        tmp_path,
        "SELECT c.setting, count(*) AS n, count(DISTINCT c.person_id) AS d, "
        "sum(c.amount) AS s, sum(least(c.amount, 20000)) AS f FROM claims c GROUP BY c.setting",
        groups_per_person=2,
    )
    sql = bounded_query(state.plan, ctx.dataset, query_salt("q"), strategy)
    _, totals = ctx.engine.execute(sql)
    p = state.plan
    rows = [
        (r[0], *exact_values(p.aggregates, p.epsilon_split, r[1 : 1 + _plain(p)])) for r in totals
    ]
    assert sum(r[1] for r in rows) == 10  # rows per person
    assert sum(1 for r in rows if r[1] > 0) <= 2  # groups per person
    assert sum(r[2] for r in rows) <= 2
    # SUM(amount) clamps each kept (person, group)'s total (amount is "auto"): at most
    # min(g, c) groups at the top candidate; the researcher's LEAST clamps each row
    (s,) = [a for a in p.aggregates if a.alias == "s"]
    assert s.group_upper is not None
    assert sum(r[3] for r in rows) <= 2 * s.group_upper
    assert sum(r[4] for r in rows) <= 10 * 20000
    _, raw = ctx.engine.execute("SELECT count(*) FROM claims")
    assert raw == [(500,)]


def test_choice_is_salted_not_first_rows(tmp_path):
    ctx, state = _heavy_plan(
        tmp_path,
        "SELECT date_trunc('month', visit_date) AS m, count(*) AS n FROM claims "
        "GROUP BY date_trunc('month', visit_date)",
        groups_per_person=1,
    )
    picks = set()
    for salt in ("a", "b", "c", "d", "e", "f"):
        _, rows = ctx.engine.execute(bounded_query(state.plan, ctx.dataset, salt))
        picks.add(tuple(sorted(r[0] for r in rows)))
    assert len(picks) > 1  # different salts pick different months


def test_public_keys_all_present_with_noise(ctx):
    state = run(
        front(f"SELECT p.region, count(*) AS n {JOIN} GROUP BY p.region", ctx, epsilon=1.0), ctx
    )
    exact = {r[0]: r[1] for r in state.exact[1]}
    released = {r[0]: r[1] for r in state.release.rows}
    regions = ctx.dataset.key_set("regions").values
    assert set(released) == set(regions) and len(exact) < len(regions)
    assert any(released[k] != exact.get(k, 0) for k in regions)
    again = run(
        front(f"SELECT p.region, count(*) AS n {JOIN} GROUP BY p.region", ctx, epsilon=1.0), ctx
    )
    assert again.release.rows != state.release.rows
    assert state.release.bounds["rows_per_person"] == C


def test_weeks_all_present(ctx):
    state = run(
        front(
            "SELECT date_trunc('week', visit_date) AS w, count(*) AS n FROM claims "
            "WHERE icd10 LIKE 'J1%' GROUP BY date_trunc('week', visit_date)",
            ctx,
            epsilon=1.0,
        ),
        ctx,
    )
    assert [r[0] for r in state.release.rows] == list(ctx.dataset.key_set("weeks").values)


def test_private_keys_are_thresholded(tmp_path):
    ctx = heavy_context(tmp_path, rows_per_person=10)
    state = run(
        front("SELECT icd10, count(*) AS n FROM claims GROUP BY icd10", ctx, epsilon=1.0), ctx
    )
    assert state.exact[1] and state.release.rows == ()
    assert state.release.mechanisms["key_selection"]["threshold"] > 10


def test_private_keys_released_when_large(ctx):
    state = run(
        front(
            "SELECT c.icd10, avg(c.amount) AS a FROM claims c GROUP BY c.icd10", ctx, epsilon=1.0
        ),
        ctx,
    )
    assert "key_selection" in state.plan.epsilon_split
    assert len(state.release.rows) >= 1
    assert state.plan.delta == pytest.approx(1e-7)


def test_postprocess_runs_on_noisy_rows(ctx):
    state = run(
        front(
            f"SELECT p.region AS r, count(*) AS n {JOIN} GROUP BY p.region ORDER BY n DESC LIMIT 3",
            ctx,
            epsilon=1.0,
        ),
        ctx,
    )
    ns = [row[1] for row in state.release.rows]
    assert len(ns) == 3 and ns == sorted(ns, reverse=True)


def test_auto_bound_is_chosen_and_recorded(wh):
    ctx = context(*wh)  # policy default: "auto"
    state = run(front("SELECT count(*) AS n FROM claims", ctx, epsilon=1.0), ctx)
    c = state.release.bounds["rows_per_person"]
    assert isinstance(c, int) and 1 <= c <= ctx.dataset.contribution.auto_max_rows
    assert state.release.bounds["rows_per_person_source"].startswith("auto")
    assert "rows_bound" in state.release.mechanisms


def test_estimate_runs_nothing(ctx):
    class NoEngine:
        def execute(self, sql, timeout_s=None):
            raise AssertionError("estimate must not run SQL")

    c2 = dataclasses.replace(ctx, engine=NoEngine())
    state = plan(front("SELECT count(*) AS n, sum(amount) AS s FROM claims", c2, epsilon=0.5), c2)
    est = dry_run_of(state, c2)
    assert est.epsilon == 0.5 and set(est.half_widths) == {"n", "s"}
    assert est.to_json()["half_widths"]["n"] > 0
    assert isinstance(state, Requested)


PERSON_KEYS = [
    "p.region",
    "p.sex, CASE WHEN 2024 - p.birth_year < 18 THEN '0-17' ELSE '18+' END",
    "p.insurance_category",
]


@pytest.mark.parametrize("keys", PERSON_KEYS)
def test_person_level_keys_one_group_per_person_and_no_loss(ctx, wh, keys):
    """g = 1 is exact for persons-only keys: every person has one key, so g = 1 drops nothing."""
    sql = f"SELECT {keys}, count(*) AS n, sum(least(c.amount, 500)) AS s {JOIN} GROUP BY {keys}"
    state = plan(front(sql, ctx, epsilon=1.0), ctx)
    assert state.plan.groups_per_person == 1
    nk = len(state.plan.keys)
    key_list = ", ".join(f"__k{i}" for i in range(nk))
    _, per_person = ctx.engine.execute(
        f"SELECT max(k) FROM (SELECT __pid, count(DISTINCT ({key_list})) AS k "
        f"FROM ({state.plan.relation_sql}) GROUP BY __pid)"
    )
    assert per_person[0][0] == 1
    wide = dataclasses.replace(state.plan, groups_per_person=4)
    _, one = ctx.engine.execute(bounded_query(state.plan, ctx.dataset, "s"))
    _, four = ctx.engine.execute(bounded_query(wide, ctx.dataset, "s"))
    one, four = sorted(one, key=repr), sorted(four, key=repr)
    assert [r[:-1] for r in one] == [r[:-1] for r in four]
    assert [r[-1] for r in one] == [r[-1] for r in four]  # exact integer totals


def test_distinct_persons_unbiased_without_rows_bound(ctx, frames):
    claims, persons = frames
    state = run(
        front(
            f"SELECT p.region, count(DISTINCT c.person_id) AS d {JOIN} GROUP BY p.region",
            ctx,
            epsilon=1.0,
        ),
        ctx,
    )
    got = {r[0]: r[1] for r in state.exact[1]}
    want = claims.merge(persons, on="person_id").groupby("region").person_id.nunique()
    assert got == want.to_dict()
    assert state.release.bounds["rows_per_person"] is None
    assert state.release.mechanisms["a0"]["sensitivity"] == 1
