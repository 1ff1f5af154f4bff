"""Splitting a query's ε across its aggregates by need, once an "auto" rows bound is chosen.

Part of stage ``choose_bound``. The plan shares ε equally between aggregates, but they do
not need the same: with ``c`` rows per person a COUNT(*) over ``R`` kept rows has relative
noise ``b = c/R`` per unit ε, a COUNT(DISTINCT person) over ``P`` persons ``min(g, c)/P``
(often a tenth of it), a SUM ``a = Δ_S/S`` (its sensitivity over its total), an AVG — a
noisy sum over a noisy count — ``√((a/f)² + (b/(1−f))²)`` when a share ``f`` of its ε goes
to the sum. The DP rows histogram the bound was chosen from gives ``R`` and ``P``; until a
value clamp is chosen a value is taken at half its bound (``a = 2b`` for a row clamp), and
once it is, the clamp's DP histogram gives the mean clamped value (``sum_relative_noise``:
for a row clamp ``U`` with mean ``m``, ``a = c·U/(R·m)``; for a group clamp ``T`` over
``K`` kept (person, group)s of mean total ``m``, ``a = min(g, c)·T/(K·m)``). All of it is
post-processing. The shares are re-split to minimise the sum of the aggregates' squared
relative errors: share ``∝ k^(2/3)`` for noise ``k/ε`` (Laplace), kept within a factor
``MAX_NEED_RATIO`` of each other; an AVG's sum and count in ``sum_count_ratio(a/b)``
(``(a/b)^(2/3)``; ``a/b`` for the Gaussian). It runs twice: once at the rows bound, moving
the clamps' shares with the rest (an aggregate whose row clamp's histogram was measured
before the bound, VARIANCE/STDDEV or AVG over an auto column, keeps its share then), and
again once every clamp is chosen (``seen``), moving only the pieces still to be noised.
Every aggregate's pieces keep their relative weights, the rows bound and key selection
keep theirs, and the query's ε (and ρ, in the same proportions) are unchanged: only who
gets what, decided before any of the moved pieces is noised. Not done for a ``half_width``
ask (its ε was sized for the equal split); aggregates keep their shares (a fixed-bound AVG
still splits its own) with quantiles (their pieces have their own split), one aggregate, or
a histogram too small to show.

>>> needs = {"a0": 16 / 1000, "a1": 1 / 700, "a2": 4.16 * 16 / 1000}
>>> {k: round(v, 3) for k, v in shares(needs, 0.9).items()}
{'a0': 0.238, 'a1': 0.047, 'a2': 0.615}
>>> round(sum_count_ratio(2.0, gaussian=False), 4) == round(AVG_SUM_RATIO, 4)
True
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from dataclasses import dataclass

from enclave.gateway.plan.clamps import clamp_id, row_clamped
from enclave.gateway.plan.pieces import pieces
from enclave.gateway.values import Aggregate, Plan
from enclave.noise import RowsChoice, ValueHistogram, rows_kept

__all__ = [
    "AVG_SUM_RATIO",
    "MAX_NEED_RATIO",
    "MAX_SUM_RATIO",
    "Seen",
    "at_ratio",
    "by_need",
    "shares",
    "sum_count_ratio",
    "sum_relative_noise",
]

#: the most one aggregate's share may exceed another's
MAX_NEED_RATIO = 16.0
#: the most an AVG's sum share may exceed its count's, or its count's its sum's
MAX_SUM_RATIO = 16.0
#: an AVG's sum over its count share, for a typical value at half its bound: 2^(2/3)
AVG_SUM_RATIO = 2.0 ** (2.0 / 3.0)

#: per clamped aggregate id, the clamp chosen (a row clamp or a group clamp) and the DP
#: histogram it was chosen from
Seen = Mapping[str, tuple[float, ValueHistogram]]


def sum_count_ratio(need: float, gaussian: bool) -> float:
    """An AVG's sum share over its count share that minimises the variance of ``S/N`` when
    the sum's relative noise is ``need`` times the count's: ``need^(2/3)`` for Laplace
    (noise ``∝ 1/ε``), ``need`` for the Gaussian (variance ``∝ 1/ρ``), within
    ``MAX_SUM_RATIO`` either way."""
    ratio = need if gaussian else need ** (2.0 / 3.0)
    return min(MAX_SUM_RATIO, max(1.0 / MAX_SUM_RATIO, ratio))


def at_ratio(split: Mapping[str, float], agg_id: str, ratio: float) -> dict[str, float]:
    """``split`` with an AVG's sum and count shares in ``ratio``, their total unchanged."""
    s, n = f"{agg_id}.sum", f"{agg_id}.count"
    both = split[s] + split[n]
    return {**split, s: both * ratio / (1.0 + ratio), n: both / (1.0 + ratio)}


def sum_relative_noise(
    agg: Aggregate, c: int, g: int, rows: float, seen: Seen | None = None
) -> float:
    """``Δ_S/S`` of the aggregate's sum over ``rows`` kept rows at rows bound ``c``: from
    its clamp's DP histogram when chosen (``seen``), else a value at half its bound."""
    if seen is not None and agg.id in seen:
        clamp, hist = seen[agg.id]
        mean = hist.mean(clamp)
        if mean > 0 and hist.rows > 0:
            if agg.group_upper is not None:  # K (person, group)s of mean clamped total
                return min(g, c) * clamp / (hist.rows * mean)
            return c * clamp / (rows * mean)
    return 2.0 * c / rows


def _avg_need(a: float, b: float, gaussian: bool) -> tuple[float, float]:
    """An AVG's need and its sum:count ratio, from its sum's relative noise ``a`` and its
    count's ``b``."""
    ratio = sum_count_ratio(a / b, gaussian)
    f = ratio / (1.0 + ratio)
    return math.hypot(a / f, b / (1.0 - f)), ratio


def _need(
    agg: Aggregate, c: int, g: int, at: tuple[float, float], seen: Seen | None, gaussian: bool
) -> tuple[float, float | None] | None:
    """Relative noise per unit ε (up to a common factor) and, for an AVG, its sum:count
    ratio; None when not modelled. ``at``: the kept rows and persons."""
    rows, persons = at
    if agg.kind == "count":
        return c / rows, None
    if agg.kind == "count_distinct":
        return min(g, c) / persons, None
    if agg.kind == "sum":
        return sum_relative_noise(agg, c, g, rows, seen), None
    if agg.kind == "avg":
        return _avg_need(sum_relative_noise(agg, c, g, rows, seen), c / rows, gaussian)
    if agg.kind in ("variance", "stddev"):
        return 3.0 * c / rows, None
    return None


def shares(needs: Mapping[str, float], total: float) -> dict[str, float]:
    """Shares of ``total`` ``∝ need^(2/3)``, within ``MAX_NEED_RATIO`` of the largest."""
    weights = {k: v ** (2.0 / 3.0) for k, v in needs.items()}
    top = max(weights.values())
    weights = {k: max(w, top / MAX_NEED_RATIO) for k, w in weights.items()}
    scale = total / sum(weights.values())
    return {k: w * scale for k, w in weights.items()}


@dataclass(frozen=True)
class _Needs:
    """The movable aggregates' needs and the AVGs' sum:count ratios."""

    needs: dict[str, float]
    ratios: dict[str, float]


def _rescaled(
    split: Mapping[str, float],
    plan: Plan,
    new: Mapping[str, float],
    ratios: Mapping[str, float],
    open_clamps: bool,
) -> dict[str, float]:
    """``split`` with each aggregate's pieces scaled to its new share, and an AVG's sum and
    count in its ratio (``AVG_SUM_RATIO`` for a fixed bound)."""
    out = dict(split)
    for agg in plan.aggregates:
        ids = _piece_ids(agg, open_clamps)
        old = sum(split[i] for i in ids)
        for i in ids:
            out[i] = split[i] * new[agg.id] / old
        ratio = ratios.get(agg.id)
        if ratio is None and agg.kind == "avg" and (not agg.clamps or agg.group_upper is not None):
            ratio = AVG_SUM_RATIO
        if ratio is not None:
            out = at_ratio(out, agg.id, ratio)
    return out


def _piece_ids(agg: Aggregate, open_clamps: bool) -> list[str]:
    """An aggregate's ε pieces that may move: its noised pieces and, while still open, its
    clamp's."""
    clamp = [clamp_id(agg)] if agg.clamps and open_clamps else []
    return [p.id for p in pieces(agg)] + clamp


def _aggregate_shares(
    split: Mapping[str, float], plan: Plan, open_clamps: bool
) -> dict[str, float]:
    return {agg.id: sum(split[i] for i in _piece_ids(agg, open_clamps)) for agg in plan.aggregates}


def _needs(plan: Plan, choice: RowsChoice, seen: Seen | None) -> _Needs | None:
    """Each movable aggregate's need at the chosen bound, or None when one is not modelled,
    the histogram saw nothing or fewer than two can move (they then keep their shares)."""
    movable = _movable(plan, seen)
    if not movable or not choice.kept:
        return None
    c, g = choice.bound, plan.groups_per_person
    rows, persons = rows_kept(choice.candidates, choice.kept, c), sum(choice.kept)
    if not rows > 0 or not persons > 0:
        return None
    got = {a.id: _need(a, c, g, (rows, persons), seen, bool(plan.rho_split)) for a in movable}
    if any(v is None or not v[0] > 0 for v in got.values()):
        return None
    needs = {k: float(v[0]) for k, v in got.items() if v is not None}
    ratios = {k: v[1] for k, v in got.items() if v is not None and v[1] is not None}
    if len(needs) < 2:
        needs = {}
    return _Needs(needs, ratios)


def _movable(plan: Plan, seen: Seen | None) -> list[Aggregate]:
    """The aggregates whose shares may move: once the clamps are chosen, all; before, not
    one whose row clamp's histogram was already measured, at rows bound 1, before the bound
    was chosen (``row_clamped``)."""
    if seen is not None:
        return list(plan.aggregates)
    ran = {a.id for a in row_clamped(plan.aggregates)}
    return [a for a in plan.aggregates if a.id not in ran]


def _split(
    split: Mapping[str, float], plan: Plan, needs: _Needs | None, open_clamps: bool
) -> dict[str, float]:
    old = _aggregate_shares(split, plan, open_clamps)
    new = dict(old)
    if needs is not None and needs.needs:
        new.update(shares(needs.needs, sum(old[k] for k in needs.needs)))
    return _rescaled(split, plan, new, needs.ratios if needs else {}, open_clamps)


def by_need(plan: Plan, choice: RowsChoice, half_width: bool, seen: Seen | None = None) -> Plan:
    """The plan with its aggregates' ε (and ρ) split by need at the chosen rows bound;
    ``seen``: every clamp is chosen, and only the pieces still to be noised move."""
    if half_width:
        return plan
    needs = _needs(plan, choice, seen)
    open_clamps = seen is None
    eps = _split(plan.epsilon_split, plan, needs, open_clamps)
    rho = _split(plan.rho_split, plan, needs, open_clamps) if plan.rho_split else {}
    return dataclasses.replace(plan, epsilon_split=eps, rho_split=rho)
