"""Group-clamped SUMs on neighbouring warehouses: the bound holds in the SQL itself.

A SUM over an "auto" clamp column clamps each kept (person, group)'s total of all its rows
at ``T`` (``plan.clamps.group_clamped``), so one person moves the vector of per-group totals
by at most ``min(g, c)·T`` — at every candidate ``T`` the one pass computes, on both
bounding strategies and on the "auto" pass at every rows bound. The adversary of
``tests._neighbours`` has hundreds of claims of huge amounts in several settings, so every
candidate binds; the histogram a clamp is chosen from moves by at most ``min(g, c)``.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from enclave.gateway.plan.pieces import SHARE_UNITS, pieces
from enclave.gateway.plan.planner import plan
from enclave.gateway.sql.auto import totals_at
from enclave.gateway.sql.rewrite import auto_query, bounded_query
from enclave.gateway.sql.stats import clamp_columns, piece_stats
from tests._neighbours import Pair, pair_fixture
from tests._warehouse import front

pair = pair_fixture("group-clamps")

JOIN = "FROM claims c JOIN persons p ON p.person_id = c.person_id"
QUERIES = {
    "by-setting": "SELECT c.setting, SUM(c.amount) AS s FROM claims c GROUP BY c.setting",
    "by-region": f"SELECT p.region, SUM(c.amount) AS s {JOIN} GROUP BY p.region",
    "with-count": "SELECT c.setting, COUNT(*) AS n, SUM(c.amount) AS s FROM claims c "
    "GROUP BY c.setting",
    "no-keys": "SELECT SUM(c.amount) AS s FROM claims c",
}


def _by_key(rows: Any, nk: int) -> dict[tuple[Any, ...], list[int]]:
    return {tuple(r[:nk]): [int(v or 0) for v in r[nk:]] for r in rows}


def _moves(a: Any, b: Any, nk: int, column: int) -> int:
    """Σ over groups of |Δ total| in one column between two totals tables."""
    x, y = _by_key(a, nk), _by_key(b, nk)
    zero = [0] * (column + 1)
    return sum(abs(x.get(k, zero)[column] - y.get(k, zero)[column]) for k in set(x) | set(y))


def _checks(p: Any, c: int) -> list[tuple[int, int]]:
    """(stat column, bound) for each group-clamped stat at rows bound ``c``."""
    (lay,) = clamp_columns(p.aggregates, p.epsilon_split)
    (agg,) = [a for a in p.aggregates if a.id == lay.aggregate]
    (piece,) = [q for q in pieces(agg) if q.stat == "gsum"]
    ((_, sums),) = lay.sums.items()
    g = min(p.groups_per_person, c)
    out = []
    for t, column in zip(lay.candidates, sums, strict=True):
        out.append((column, g * round(t / piece.grid) * SHARE_UNITS))
    out.extend((b, g) for b in lay.bins)  # each kept (person, group) is in one bin
    return out


@pytest.mark.parametrize("name", list(QUERIES))
@pytest.mark.parametrize("strategy", ["preagg", "window"])
def test_one_person_moves_each_group_clamped_total_by_at_most_its_bound(
    pair: Pair, name: str, strategy: str
) -> None:
    p = plan(front(QUERIES[name], pair.without, epsilon=1.0), pair.without).plan
    assert any(a.group_upper is not None for a in p.aggregates)
    nk = len(p.keys)
    for c in (1, 3, 40):
        fixed = dataclasses.replace(p, rows_per_person=c)
        sql = bounded_query(fixed, pair.without.dataset, "salt", strategy)  # type: ignore[arg-type]
        _, a = pair.without.engine.execute(sql)
        _, b = pair.with_.engine.execute(sql)
        for col, bound in _checks(fixed, c):
            assert _moves(a, b, nk, col) <= bound, (name, c, col)


@pytest.mark.parametrize("name", ["by-setting", "with-count"])
def test_the_auto_pass_keeps_the_bound_at_every_rows_bound(pair: Pair, name: str) -> None:
    p = plan(front(QUERIES[name], pair.without, epsilon=1.0), pair.without).plan
    if p.rows_per_person != "auto":
        p = dataclasses.replace(p, rows_per_person="auto")
    nk = len(p.keys)
    sql = auto_query(p, pair.without.dataset, "salt")
    _, a = pair.without.engine.execute(sql)
    _, b = pair.with_.engine.execute(sql)
    stats = piece_stats(p.aggregates, p.epsilon_split)
    for c in (1, 2, 8, 64):
        at_a = totals_at(a, n_keys=nk, stats=stats, c=c)
        at_b = totals_at(b, n_keys=nk, stats=stats, c=c)
        for col, bound in _checks(p, c):
            assert _moves(at_a, at_b, nk, col) <= bound, (name, c, col)


def test_the_adversary_reaches_the_top_candidate_bound(pair: Pair) -> None:
    """The bound is tight where it should be: at the smallest candidate the adversary's
    kept groups are all clamped, so the sum moves by exactly min(g, c) · T (one group
    without keys)."""
    p = plan(front(QUERIES["no-keys"], pair.without, epsilon=1.0), pair.without).plan
    fixed = dataclasses.replace(p, rows_per_person=8)
    sql = bounded_query(fixed, pair.without.dataset, "salt")
    _, a = pair.without.engine.execute(sql)
    _, b = pair.with_.engine.execute(sql)
    column, bound = _checks(fixed, 8)[0]
    assert _moves(a, b, 0, column) == bound
