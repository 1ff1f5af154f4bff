"""Splitting a query's ε across its aggregates by need, once an "auto" rows bound is chosen.

Part of stage ``choose_bound``. The plan shares ε equally between aggregates, but they do
not need the same: with ``c`` rows per person a COUNT(*) over ``R`` kept rows has relative
noise ``∝ c/R``, a COUNT(DISTINCT person) over ``P`` persons ``∝ min(g, c)/P`` (often a
tenth of it), an AVG — a noisy sum over a noisy count — ``∝ √(4 + 1)·c/R`` for a typical
value at half its bound. The DP rows histogram the bound was chosen from gives ``R`` and
``P`` (post-processing), so the aggregates' shares are re-split to minimise the sum of
their squared relative errors: share ``∝ k^(2/3)`` for noise ``k/ε`` (Laplace), kept within
a factor ``MAX_NEED_RATIO`` of each other; an AVG's sum and count likewise (``(U/m)^(2/3)``
at ``m = U/2``). Every aggregate's pieces keep their relative weights, the rows bound and
key selection keep theirs, an aggregate whose row clamp's histogram was measured before
the bound (VARIANCE/STDDEV over an auto column) keeps its share, and the query's ε (and ρ,
in the same proportions) are unchanged: only who gets what, decided before any of the
moved pieces is noised. Not done for a
``half_width`` ask (its ε was sized for the equal split); aggregates keep their shares
(a fixed-bound AVG still splits its own) with quantiles (their pieces have their own
split), one aggregate, or a histogram too small to show.

>>> needs = {"a0": 16 / 1000, "a1": 1 / 700, "a2": 2.236 * 16 / 1000}
>>> {k: round(v, 3) for k, v in shares(needs, 0.9).items()}
{'a0': 0.309, 'a1': 0.062, 'a2': 0.529}
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping

from enclave.gateway.plan.clamps import clamp_id, row_clamped
from enclave.gateway.plan.pieces import pieces
from enclave.gateway.values import Aggregate, Plan
from enclave.noise import RowsChoice, rows_kept

__all__ = ["MAX_NEED_RATIO", "by_need", "shares"]

#: the most one aggregate's share may exceed another's
MAX_NEED_RATIO = 16.0
#: an AVG's sum over its count share, for a typical value at half its bound: 2^(2/3)
AVG_SUM_RATIO = 2.0 ** (2.0 / 3.0)


def _need(agg: Aggregate, c: int, g: int, rows: float, persons: float) -> float | None:
    """Relative noise per unit ε (up to a common factor), or None when not modelled."""
    if agg.kind == "count":
        return c / rows
    if agg.kind == "count_distinct":
        return min(g, c) / persons
    if agg.kind == "sum":
        return 2.0 * c / rows
    if agg.kind == "avg":
        return math.sqrt(5.0) * c / rows
    if agg.kind in ("variance", "stddev"):
        return 3.0 * c / rows
    return None


def shares(needs: Mapping[str, float], total: float) -> dict[str, float]:
    """Shares of ``total`` ``∝ need^(2/3)``, within ``MAX_NEED_RATIO`` of the largest."""
    weights = {k: v ** (2.0 / 3.0) for k, v in needs.items()}
    top = max(weights.values())
    weights = {k: max(w, top / MAX_NEED_RATIO) for k, w in weights.items()}
    scale = total / sum(weights.values())
    return {k: w * scale for k, w in weights.items()}


def _rescaled(split: Mapping[str, float], plan: Plan, new: Mapping[str, float]) -> dict[str, float]:
    """``split`` with each aggregate's pieces scaled to its new share (a fixed-bound AVG's
    sum and count in ``AVG_SUM_RATIO``)."""
    out = dict(split)
    for agg in plan.aggregates:
        ids = _piece_ids(agg)
        old = sum(split[i] for i in ids)
        for i in ids:
            out[i] = split[i] * new[agg.id] / old
        if agg.kind == "avg" and (not agg.clamps or agg.group_upper is not None):
            s, n = f"{agg.id}.sum", f"{agg.id}.count"
            both = out[s] + out[n]
            out[s], out[n] = both * AVG_SUM_RATIO / (1 + AVG_SUM_RATIO), both / (1 + AVG_SUM_RATIO)
    return out


def _piece_ids(agg: Aggregate) -> list[str]:
    """Every ε piece of an aggregate: its noised pieces and, still open, its clamp's."""
    return [p.id for p in pieces(agg)] + ([clamp_id(agg)] if agg.clamps else [])


def _aggregate_shares(split: Mapping[str, float], plan: Plan) -> dict[str, float]:
    return {agg.id: sum(split[i] for i in _piece_ids(agg)) for agg in plan.aggregates}


def _needs(plan: Plan, choice: RowsChoice) -> dict[str, float] | None:
    """Each movable aggregate's need at the chosen bound, or None when one is not modelled,
    the histogram saw nothing or fewer than two can move (they then keep their shares)."""
    movable = _movable(plan)
    if len(movable) < 2 or not choice.kept:
        return None
    c, g = choice.bound, plan.groups_per_person
    rows, persons = rows_kept(choice.candidates, choice.kept, c), sum(choice.kept)
    if not rows > 0 or not persons > 0:
        return None
    needs = {a.id: _need(a, c, g, rows, persons) for a in movable}
    if any(v is None or not v > 0 for v in needs.values()):
        return None
    return {k: float(v) for k, v in needs.items() if v is not None}


def _movable(plan: Plan) -> list[Aggregate]:
    """The aggregates whose shares may move: not one whose row clamp's histogram was
    already measured, at rows bound 1, before the bound was chosen (``row_clamped``)."""
    ran = {a.id for a in row_clamped(plan.aggregates)}
    return [a for a in plan.aggregates if a.id not in ran]


def _split(
    split: Mapping[str, float], plan: Plan, needs: Mapping[str, float] | None
) -> dict[str, float]:
    old = _aggregate_shares(split, plan)
    new = dict(old)
    if needs is not None:
        new.update(shares(needs, sum(old[k] for k in needs)))
    return _rescaled(split, plan, new)


def by_need(plan: Plan, choice: RowsChoice, half_width: bool) -> Plan:
    """The plan with its aggregates' ε (and ρ) split by need at the chosen rows bound."""
    if half_width:
        return plan
    needs = _needs(plan, choice)
    eps = _split(plan.epsilon_split, plan, needs)
    rho = _split(plan.rho_split, plan, needs) if plan.rho_split else {}
    return dataclasses.replace(plan, epsilon_split=eps, rho_split=rho)
