"""The value clamps of a plan's ``clamp = "auto"`` aggregates, chosen with DP.

Part of stage ``choose_bound``. For each clamped aggregate the bounded totals hold its value
pieces at every candidate clamp and the kept rows per value bin (``sql.stats``). The bins,
summed over groups, are one histogram: at a fixed rows bound ``c`` it is read at ``c``
(L1 sensitivity ``c``); with an "auto" rows bound it is read at rows bound 1 (sensitivity
1: each person's first row), *before* ``c`` is chosen, so that the rows bound is chosen
knowing what each ``c`` costs the clamped sums (``clamp_error``: at each ``c``, the least
clamp bias on the rows ``c`` keeps plus noise at ``c``, over the clamp candidates), and the
clamp is then chosen at the ``c`` that won, the histogram's rows scaled to the rows ``c``
keeps (both from the DP rows histogram). Either way one measurement per aggregate, OpenDP's
discrete Laplace at its clamp share of ε (``plan.clamps``), then post-processing
(``enclave.noise.pick_clamp``): the candidate of least expected error against the noise of
the aggregate's sum at that clamp (over all public cells, as for the rows bound). The plan
then carries the aggregate at that clamp — a fixed bound from here on, stated in the
release's bounds — and the totals keep only its columns. A group clamp (a SUM's or AVG's
(person, group) totals, ``plan.clamps.group_clamped``) does not scale with ``c``: its
histogram (sensitivity ``min(g, c)``) is always read at the bound in force, after ``c``.
"""

from __future__ import annotations

import dataclasses
import functools
import math
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

from enclave.gateway.plan.accounting import piece_noise, pure_epsilon
from enclave.gateway.plan.clamps import at_clamp, clamp_id
from enclave.gateway.plan.keys import key_combinations
from enclave.gateway.plan.pieces import SHARE_UNITS, SUM_PIECES, Piece, pieces
from enclave.gateway.release.losses import Losses
from enclave.gateway.release.need import Seen, at_ratio, sum_count_ratio
from enclave.gateway.sql.stats import ClampColumns, at_clamps, clamp_columns
from enclave.gateway.values import Aggregate, Plan
from enclave.noise import (
    ClampChoice,
    ValueHistogram,
    measure_values,
    pick_clamp,
    row_candidates,
    rows_kept,
)
from enclave.policy import DatasetPolicy

__all__ = [
    "CLAMP_NOTE",
    "Clamped",
    "Measured",
    "choose_clamps",
    "clamp_error",
    "measure_clamps",
    "scaled",
    "split_by_need",
]

CLAMP_NOTE = "value clamp of {alias} chosen privately by least expected error (auto): {clamp:g}"


def _cells(plan: Plan, ds: DatasetPolicy) -> int:
    return key_combinations([k.key_set for k in plan.keys], ds, unknown=1) if plan.keys else 1


def _noise(plan: Plan, agg: Aggregate, cells: int, rows: int) -> Callable[[float], float]:
    """The noise of the aggregate's sum at clamp ``u``, in value units, over all cells, at
    ``rows`` rows per person."""

    def noise(u: float) -> float:
        p = _sum_piece(agg, u)
        return cells * piece_noise(plan, p, rows).std * p.unit_value

    return noise


@functools.lru_cache(maxsize=4096)
def _sum_piece(agg: Aggregate, u: float) -> Piece:
    """The sum piece of ``agg`` at clamp ``u`` (built once: every rows bound asks for it)."""
    (p,) = [q for q in pieces(at_clamp(agg, u)) if q.stat in SUM_PIECES]
    return p


class Clamped(NamedTuple):
    """``choose_clamps``: the plan at its clamps, the totals at them, each choice's
    description, and per aggregate the clamp chosen with the DP histogram it came from."""

    plan: Plan
    rows: list[tuple[Any, ...]]
    mechanisms: dict[str, Any]
    seen: dict[str, tuple[float, ValueHistogram]]


@dataclass(frozen=True)
class Measured:
    """One clamped aggregate's DP value histogram and the rows bound it was read at."""

    histogram: ValueHistogram
    sensitivity: int


def _mechanism(plan: Plan, agg: Aggregate, choice: ClampChoice, at: Measured) -> dict[str, Any]:
    if agg.group_upper is not None:
        what = (
            "a noisy histogram of each kept (person, group)'s total (OpenDP discrete "
            f"Laplace, sensitivity {at.sensitivity} (person, group)s)"
        )
    else:
        what = (
            "a noisy histogram of values (OpenDP discrete Laplace, sensitivity "
            f"{at.sensitivity} rows; counts in 1/{SHARE_UNITS} rows)"
        )
    return {
        "mechanism": f"least expected error over {what}",
        "applies_to": "(person, group) totals" if agg.group_upper is not None else "rows",
        "label": f"{agg.alias} (auto value clamp)",
        "epsilon": plan.epsilon_split[clamp_id(agg)],
        "clamp": choice.clamp,
        "candidates": list(choice.candidates),
        "noisy_rows": list(choice.noisy_rows),
        "scale": choice.scale,
        "estimated_clamped_off": round(choice.estimated_bias, 2),
        "fallback": choice.fallback,
    }


def split_by_need(plan: Plan, chosen: Seen) -> Plan:
    """The plan with each row-clamped AVG's sum and count shares split by need (its clamp
    ``U`` over the mean clamped value ``m``, both from the DP histogram: the sum's relative
    noise is ``U/m`` times the count's; ``need.sum_count_ratio``):
    post-processing of DP outputs, before either is noised; the aggregate's total share,
    and so the query's ε, are unchanged. Under zcdp the ρ shares are split by the Gaussian
    ratio and the ε shares with them, so that ``epsilon_split`` still attributes the
    release's ε in the proportions of ``rho_split`` (``plan.accounting``)."""
    eps, rho = dict(plan.epsilon_split), dict(plan.rho_split)
    for agg in plan.aggregates:
        if agg.kind != "avg" or agg.id not in chosen or agg.group_upper is not None:
            continue
        clamp, hist = chosen[agg.id]
        mean = hist.mean(clamp)
        if not mean > 0:
            continue
        ratio = sum_count_ratio(clamp / mean, gaussian=bool(rho))
        eps = at_ratio(eps, agg.id, ratio)
        if rho:
            rho = at_ratio(rho, agg.id, ratio)
    return dataclasses.replace(plan, epsilon_split=eps, rho_split=rho)


def scaled(kept: float, hist: ValueHistogram) -> float:
    """How many rows a rows bound keeps per row of a value histogram read at bound 1
    (``kept``: its ``Σ min(n, c)`` from the rows histogram); 1 when either is empty."""
    return kept / hist.rows if hist.rows and kept else 1.0


def _histogram(rows: Sequence[Sequence[Any]], n_keys: int, lay: ClampColumns) -> list[int]:
    return [sum(int(r[n_keys + b] or 0) for r in rows) for b in lay.bins]


def measure_clamps(
    plan: Plan,
    rows: Sequence[Sequence[Any]],
    sensitivity: int,
    losses: Losses,
    only: Collection[str] | None = None,
) -> dict[str, Measured]:
    """Each clamped aggregate's one DP measurement (those in ``only`` when given): its
    histogram in ``rows`` (the bounded totals at a rows bound ``sensitivity``), at its clamp
    piece's ε — of rows per value bin in 1/K rows (sensitivity ``c·K``), or, group-clamped,
    of kept (person, group)s per total bin (sensitivity ``min(g, c)``)."""
    nk = len(plan.keys)
    out = {}
    for lay in clamp_columns(plan.aggregates, plan.epsilon_split):
        agg = next(a for a in plan.aggregates if a.id == lay.aggregate)
        if only is not None and agg.id not in only:
            continue
        group = agg.group_upper is not None
        d_in = min(plan.groups_per_person, sensitivity) if group else sensitivity
        unit = 1 if group else SHARE_UNITS
        hist = measure_values(
            _histogram(rows, nk, lay),
            lay.candidates,
            sensitivity=d_in * unit,
            epsilon=pure_epsilon(plan, clamp_id(agg)),
            record=losses.recorder(clamp_id(agg)),
            unit=unit,
        )
        out[agg.id] = Measured(hist, d_in)
    return out


def clamp_error(
    plan: Plan, ds: DatasetPolicy, measured: Mapping[str, Measured]
) -> Callable[[int, Sequence[float]], float] | None:
    """For an "auto" rows bound chosen with clamps still open: at rows bound ``c`` (given
    the rows histogram's real bins) each clamped aggregate's least error over its clamps —
    its clamp bias on the rows ``c`` keeps and its noise at ``c`` — in rows (over its mean
    clamped value), added in quadrature; None when a value histogram saw nothing."""
    if any(m.histogram.kept is None for m in measured.values()):
        return None
    cells = _cells(plan, ds)
    by_id = {a.id: a for a in plan.aggregates}
    candidates = row_candidates(ds.contribution.auto_max_rows)

    def error(c: int, bins: Sequence[float]) -> float:
        total = 0.0
        kept = rows_kept(candidates, bins, c)
        for agg_id, m in measured.items():
            hist = m.histogram
            noise_at = _noise(plan, by_id[agg_id], cells, c)
            choice = pick_clamp(hist, noise_at, scaled(kept, hist))
            noise = noise_at(choice.clamp)
            mean = hist.mean(choice.clamp)
            if mean > 0:  # in rows: each term over the mean value (never squared alone)
                total += (choice.estimated_bias / mean) ** 2 + (noise / mean) ** 2
        return math.sqrt(total)

    return error


def choose_clamps(
    plan: Plan,
    rows: Sequence[Sequence[Any]],
    ds: DatasetPolicy,
    losses: Losses,
    measured: Mapping[str, Measured] | None = None,
    factor: Callable[[ValueHistogram], float] | None = None,
) -> Clamped:
    """The plan at its chosen clamps, the totals at them, each choice's description and
    what each histogram saw.

    ``measured``: histograms already read (at rows bound 1, before an "auto" rows bound
    was chosen), each one's rows scaled by ``factor(histogram)`` to the rows the plan's
    bound keeps;
    otherwise each is read here from the totals at the plan's rows bound.
    """
    layouts = clamp_columns(plan.aggregates, plan.epsilon_split)
    if not layouts:
        return Clamped(plan, [tuple(r) for r in rows], {}, {})
    c = int(plan.rows_per_person)
    read: dict[str, Measured] = dict(measured or {})
    missing = [lay.aggregate for lay in layouts if lay.aggregate not in read]
    if missing:  # group clamps, and every clamp at a fixed rows bound: read at c
        read.update(measure_clamps(plan, rows, c, losses, missing))
    nk, cells = len(plan.keys), _cells(plan, ds)
    by_id = {a.id: a for a in plan.aggregates}
    chosen: dict[int, int] = {}
    fixed: dict[str, Aggregate] = {}
    mechanisms: dict[str, Any] = {}
    notes = list(plan.notes)
    for j, lay in enumerate(layouts):
        agg, at = by_id[lay.aggregate], read[lay.aggregate]
        read_at_one = factor is not None and lay.aggregate not in missing
        scale = factor(at.histogram) if read_at_one and factor is not None else 1.0
        top = _top(agg, c)
        choice = pick_clamp(at.histogram, _noise(plan, agg, cells, c), scale, top)
        if top is not None:
            read[lay.aggregate] = dataclasses.replace(at, histogram=at.histogram.at_most(top))
        chosen[j] = lay.candidates.index(choice.clamp)
        fixed[agg.id] = at_clamp(agg, choice.clamp)
        mechanisms[clamp_id(agg)] = _mechanism(plan, agg, choice, at)
        notes.append(CLAMP_NOTE.format(alias=agg.alias, clamp=choice.clamp))
    narrowed = [(*r[:nk], *at_clamps(r[nk:], chosen, layouts)) for r in rows]
    aggregates = tuple(fixed.get(a.id, a) for a in plan.aggregates)
    new = dataclasses.replace(plan, aggregates=aggregates, notes=tuple(notes))
    seen = {a: (_chosen(fixed[a]), read[a].histogram) for a in fixed}
    return Clamped(split_by_need(new, seen), narrowed, mechanisms, seen)


def _top(agg: Aggregate, c: int) -> float | None:
    """The most an AVG's kept (person, group) share can be: ``c`` rows at the row bound
    (``c·max(|lower|, |upper|)``); None for other aggregates (a SUM's group total has all its rows)."""
    if agg.kind != "avg" or agg.group_upper is None or agg.upper is None:
        return None
    widest = max(abs(agg.upper), abs(agg.lower or 0.0))
    return c * widest if widest > 0 else None


def _chosen(agg: Aggregate) -> float:
    """The clamp chosen for an aggregate: its group total's bound, or its rows'."""
    return (agg.group_upper if agg.group_upper is not None else agg.upper) or 0.0
