"""Group-clamped SUMs against a hostile query author, on neighbouring warehouses.

A SUM over an "auto" clamp column clamps each kept (person, group)'s total of all its rows
(``plan.clamps.group_clamped``); plans of such SUMs and COUNT(DISTINCT person) have no
rows bound at all. The shapes here are the ones a patient adversary would try against
that: signed arguments (a total that may be negative), values far past the policy bound,
private keys, a person with more groups than ``g``, LEFT JOINs, a patient-level WITH body
joined back to its events, two clamped SUMs beside a person count, prescriptions, and the
"auto" one pass beside a COUNT and an AVG. For every shape:

* in the SQL itself, one person (``tests._neighbours.ADVERSARY``) moves every total the
  bounded SQL computes — each piece, each candidate clamp, each clamp histogram — by at
  most the L1 sensitivity the plan states for it, on both strategies and the one pass;
* through the whole gateway, pure and zcdp, with ε or a half_width asked, the release or
  refusal and the dry run are the same on both neighbours;
* the release states the sensitivity the SQL obeys (``min(g, c)·T``);
* after an AVG's shares are split by need, the ε (or ρ) OpenDP recorded is the ε charged,
  and under zcdp the stated ε split stays in the proportions of the ρ split.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterator
from typing import Any

import pytest

from enclave.gateway import QueryRequest, dry_run
from enclave.gateway.pipeline import BACK
from enclave.gateway.plan.clamps import at_clamp
from enclave.gateway.plan.contribution import NO_ROWS_BOUND
from enclave.gateway.plan.pieces import SHARE_UNITS, Piece, pieces, plan_pieces, sensitivity
from enclave.gateway.plan.planner import plan
from enclave.gateway.release.losses import verify_losses
from enclave.gateway.sql.auto import totals_at
from enclave.gateway.sql.rewrite import auto_query, bounded_query
from enclave.gateway.sql.stats import clamp_columns, piece_stats
from enclave.gateway.values import Plan
from enclave.policy import pure_rho
from tests._neighbours import Pair, build_pair, open_pair, outcome
from tests._warehouse import front

J = "FROM claims c JOIN persons p ON p.person_id = c.person_id"
#: shapes whose SUMs are group-clamped; every one has no rows bound
SHAPES = {
    # a signed argument: (person, group) totals clamped to [−T, T]
    "shifted": "SELECT setting, SUM(amount - 1000) AS s FROM claims GROUP BY setting",
    "signed": "SELECT setting, SUM(CASE WHEN icd10 IS NULL THEN -amount ELSE amount END) AS s "
    "FROM claims GROUP BY setting",
    # private keys: the adversary's rare codes are keys of their own
    "private-key": "SELECT icd10, SUM(amount) AS s, COUNT(DISTINCT person_id) AS d "
    "FROM claims GROUP BY icd10",
    # 24 months: far more groups than g
    "many-groups": "SELECT date_trunc('month', visit_date) AS m, SUM(amount) AS s "
    "FROM claims GROUP BY 1",
    "left-join-persons": "SELECT p.region, SUM(c.amount) AS s FROM persons p "
    "LEFT JOIN claims c ON c.person_id = p.person_id GROUP BY p.region",
    "left-join-rx": "SELECT c.setting, SUM(r.amount) AS s FROM claims c "
    "LEFT JOIN prescriptions r ON r.person_id = c.person_id GROUP BY c.setting",
    "two-sums-and-persons": "SELECT setting, SUM(amount) AS s, SUM(amount * 2) AS t, "
    "COUNT(DISTINCT person_id) AS d FROM claims GROUP BY setting",
    # a patient-level total joined back to every claim: repeated once per claim
    "body-joined-back": "WITH t AS (SELECT person_id, SUM(amount) AS tot FROM claims "
    "GROUP BY person_id) SELECT c.setting, SUM(t.tot) AS s FROM claims c "
    "JOIN t ON t.person_id = c.person_id GROUP BY c.setting",
    "two-keys": f"SELECT p.sex, c.setting, SUM(c.amount) AS s {J} GROUP BY p.sex, c.setting",
    "no-keys-diagnoses": "SELECT SUM(c.amount) AS s FROM claims c "
    "JOIN diagnoses d ON d.person_id = c.person_id",
}
#: shapes that also need a rows bound ("auto": the one pass)
MIXED = {
    "count-avg-sum": "SELECT setting, COUNT(*) AS n, AVG(amount) AS a, SUM(amount) AS s "
    "FROM claims GROUP BY setting",
    "private-count-sum": "SELECT icd10, COUNT(*) AS n, SUM(amount - 1000) AS s "
    "FROM claims GROUP BY icd10",
}


@pytest.fixture(scope="module")
def pair(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pair]:
    with open_pair(build_pair(tmp_path_factory.mktemp("group-clamp-attacks"))) as opened:
        yield opened


def _zcdp(ctx: Any) -> Any:
    """The demo project accounted in ρ (a budget of ε 10⁴: converting the pair's generous
    10⁹ to ρ would take minutes)."""
    demo = dataclasses.replace(ctx.projects["demo"], accounting="zcdp", epsilon=1e4)
    return dataclasses.replace(ctx, projects={**ctx.projects, "demo": demo})


def _plan(ctx: Any, sql: str) -> Plan:
    return plan(front(sql, ctx, epsilon=1.0), ctx).plan


def _bounds(p: Plan, c: int) -> list[tuple[tuple[int, ...], float]]:
    """(stat columns, the L1 bound of their joint move) for every total the SQL computes
    at rows bound ``c``: each plain piece at its sensitivity, each candidate column at its
    candidate's, and each clamp histogram (all bins together) at ``min(g, c)`` (group
    totals) or ``c·K`` (rows, in 1/K)."""
    g = p.groups_per_person
    plain = [q for q in plan_pieces(p.aggregates, p.epsilon_split) if q.in_sql]
    out = [((i,), sensitivity(q, rows=c, groups=g)) for i, q in enumerate(plain)]
    by_id = {a.id: a for a in p.aggregates}
    for lay in clamp_columns(p.aggregates, p.epsilon_split):
        agg = by_id[lay.aggregate]
        for index, ids in lay.sums.items():
            for cand, column in zip(lay.candidates, ids, strict=True):
                (q,) = [x for x in pieces(at_clamp(agg, cand)) if x.id == plain[index].id]
                out.append(((column,), sensitivity(q, rows=c, groups=g)))
        grouped = agg.group_upper is not None
        out.append((lay.bins, float(min(g, c)) if grouped else float(c * SHARE_UNITS)))
    return out


def _table(rows: Any, nk: int) -> dict[tuple[Any, ...], list[int]]:
    return {tuple(r[:nk]): [int(v or 0) for v in r[nk:]] for r in rows}


def _assert_within(a: Any, b: Any, p: Plan, c: int, what: str) -> None:
    nk = len(p.keys)
    x, y = _table(a, nk), _table(b, nk)
    width = len(piece_stats(p.aggregates, p.epsilon_split))
    zero = [0] * width
    for columns, bound in _bounds(p, c):
        moved = sum(
            abs(x.get(k, zero)[i] - y.get(k, zero)[i]) for k in set(x) | set(y) for i in columns
        )
        assert moved <= bound, (what, c, columns, moved, bound)


def _group_clamped(p: Plan) -> list[Piece]:
    return [q for q in plan_pieces(p.aggregates, p.epsilon_split) if q.stat == "gsum"]


@pytest.mark.parametrize("name", list(SHAPES))
@pytest.mark.parametrize("strategy", ["preagg", "window"])
def test_one_person_moves_every_total_by_at_most_its_stated_sensitivity(
    pair: Pair, name: str, strategy: str
) -> None:
    p = _plan(pair.without, SHAPES[name])
    assert _group_clamped(p) and p.rows_per_person == NO_ROWS_BOUND, name
    for c in (NO_ROWS_BOUND, 1, 3, 40):  # as planned, and beside a rows bound
        fixed = dataclasses.replace(p, rows_per_person=c)
        sql = bounded_query(fixed, pair.without.dataset, "salt", strategy)  # type: ignore[arg-type]
        _, a = pair.without.engine.execute(sql)
        _, b = pair.with_.engine.execute(sql)
        _assert_within(a, b, fixed, c, name)


@pytest.mark.parametrize("name", list(MIXED))
def test_the_one_pass_keeps_every_stated_sensitivity_at_every_rows_bound(
    pair: Pair, name: str
) -> None:
    p = _plan(pair.without, MIXED[name])
    assert _group_clamped(p) and p.rows_per_person == "auto", name
    sql = auto_query(p, pair.without.dataset, "salt")
    _, a = pair.without.engine.execute(sql)
    _, b = pair.with_.engine.execute(sql)
    stats = piece_stats(p.aggregates, p.epsilon_split)
    for c in (1, 2, 8, 64, 512):
        at_a = totals_at(a, n_keys=len(p.keys), stats=stats, c=c)
        at_b = totals_at(b, n_keys=len(p.keys), stats=stats, c=c)
        _assert_within(at_a, at_b, dataclasses.replace(p, rows_per_person=c), c, name)


ASKS: dict[str, dict[str, Any]] = {
    "epsilon": {"epsilon": 1.0},
    "small-epsilon": {"epsilon": 0.01},
    "half-width": {"epsilon": None, "half_width": 1e10},
    "half-width-too-narrow": {"epsilon": None, "half_width": 10.0},
}


def _preview(ctx: Any, sql: str, ask: dict[str, Any]) -> Any:
    try:
        out = dry_run(QueryRequest(sql=sql, project="demo", user="researcher@demo", **ask), ctx)
    except Exception as exc:
        return ("refused", type(exc).__name__, str(exc))
    out.pop("budget_remaining")
    return out


#: (ask, accounting): every ask under both accountings (a half_width narrower than a grid
#: unit is refused under zcdp too: ``gaussian_scale_for_half_width`` gives up, never loops)
ACCOUNTED = [(ask, accounting) for ask in ASKS for accounting in ("pure", "zcdp")]


@pytest.mark.parametrize(("ask", "accounting"), ACCOUNTED)
@pytest.mark.parametrize("name", [*SHAPES, *MIXED])
def test_outcome_and_dry_run_do_not_depend_on_one_person(
    pair: Pair, name: str, ask: str, accounting: str
) -> None:
    sql = {**SHAPES, **MIXED}[name]
    ctxs = [(_zcdp(c) if accounting == "zcdp" else c) for c in pair.both()]
    previews = [_preview(c, sql, ASKS[ask]) for c in ctxs]
    assert previews[0] == previews[1], (name, ask, accounting)
    outcomes = [outcome(c, sql, **ASKS[ask]) for c in ctxs]
    assert outcomes[0] == outcomes[1], (name, ask, accounting, outcomes)


def _released(ctx: Any, sql: str) -> Any:
    state = front(sql, ctx, epsilon=1.0)
    for stage in (plan, *BACK):
        state = stage(state, ctx)
    return state


@pytest.mark.parametrize("accounting", ["pure", "zcdp"])
def test_the_release_states_the_sensitivity_the_sql_obeys(pair: Pair, accounting: str) -> None:
    ctx = _zcdp(pair.with_) if accounting == "zcdp" else pair.with_
    state = _released(ctx, SHAPES["many-groups"])
    p = state.plan
    (agg,) = [a for a in p.aggregates if a.group_upper is not None]
    (q,) = _group_clamped(p)
    t = agg.group_upper
    assert state.release.bounds["group_total_clamps"] == {"s": t}
    mech = state.release.mechanisms[q.id]
    g = p.groups_per_person
    assert mech["sensitivity"] == pytest.approx(g * math.ceil(t / q.grid) * q.grid)
    if accounting == "zcdp":
        assert mech["sensitivity_l2"] == pytest.approx(math.sqrt(g) * t, rel=1e-9)


AVG_SQL = "SELECT setting, AVG(amount) AS a, SUM(amount) AS s FROM claims GROUP BY setting"


@pytest.mark.parametrize("accounting", ["pure", "zcdp"])
def test_split_by_need_keeps_what_opendp_recorded_equal_to_the_charge(
    pair: Pair, accounting: str
) -> None:
    ctx = _zcdp(pair.with_) if accounting == "zcdp" else pair.with_
    planned = _plan(ctx, AVG_SQL)
    state = _released(ctx, AVG_SQL)
    p = state.plan
    (avg,) = [a for a in p.aggregates if a.kind == "avg"]
    s, n = f"{avg.id}.sum", f"{avg.id}.count"
    assert p.epsilon_split[s] != pytest.approx(planned.epsilon_split[s])  # re-split
    assert sum(p.epsilon_split.values()) == pytest.approx(p.epsilon, rel=1e-12)
    ran = {m.piece: m for m in state.measurements}
    assert set(ran) == set(p.epsilon_split)
    verify_losses(
        p.epsilon_split,
        p.epsilon,
        p.delta,
        state.measurements,
        rho_split=p.rho_split or None,
        rho=p.rho,
    )
    if accounting == "pure":
        assert sum(m.epsilon for m in ran.values()) == pytest.approx(p.epsilon, rel=1e-5)
        for piece, m in ran.items():
            assert m.epsilon == pytest.approx(p.epsilon_split[piece], rel=1e-5)
        return
    assert sum(p.rho_split.values()) == pytest.approx(p.rho, rel=1e-12)
    used = {k: m.rho + pure_rho(m.epsilon) for k, m in ran.items()}
    assert sum(used.values()) == pytest.approx(p.rho, rel=1e-5)
    for piece, r in used.items():
        assert r == pytest.approx(p.rho_split[piece], rel=1e-5)
    for piece in (s, n):  # the stated ε split attributes ε in the proportions of ρ
        assert p.epsilon_split[piece] / p.epsilon == pytest.approx(p.rho_split[piece] / p.rho)
        shown = state.release.mechanisms[piece]
        assert shown["rho"] == p.rho_split[piece]
        assert shown["epsilon"] == p.epsilon_split[piece]
