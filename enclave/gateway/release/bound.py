"""Stage ``choose_bound``: the rows-per-person bound of an "auto" plan, chosen with DP.

For ``rows_per_person = "auto"`` the one-pass query returned the histogram of rows per
person (after filters and joins) and bucketed totals for every bound. The bound is the
candidate among 1, 2, 4, …, ``auto_max_rows`` of least expected error — the rows it drops
against the noise the query adds at it — estimated from a DP histogram of persons per
candidate bin (``enclave.noise.choose_rows``: OpenDP's discrete Laplace, sensitivity 1,
at the planned auto share of ε). ``rows_noise`` states that noise in rows for this plan.
A ``half_width`` ask caps the candidates at the largest bound whose half-widths fit it
(``plan.epsilon.rows_ceiling``). The plan records ``c``, the exact totals at ``c`` are
rebuilt from the buckets (``sql.auto.totals_at``), and the choice (with its noisy
histogram, all DP) goes on to the release. A plan with a fixed bound passes its totals
through. This is a DP release on exact data, so it is a stage of its own and records its
measurement.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from enclave.engines.hashing import query_salt
from enclave.gateway.deadline import request_limit, run_sql
from enclave.gateway.plan.accounting import piece_noise, pure_epsilon
from enclave.gateway.plan.clamps import row_clamped
from enclave.gateway.plan.epsilon import rows_ceiling
from enclave.gateway.plan.keys import key_combinations
from enclave.gateway.plan.pieces import (
    AUTO,
    SELECTION,
    VALUE_PIECES,
    Piece,
    plan_pieces,
    sensitivity,
)
from enclave.gateway.release.clamp import (
    Measured,
    choose_clamps,
    clamp_error,
    measure_clamps,
    scaled,
)
from enclave.gateway.release.losses import Losses
from enclave.gateway.release.need import by_need
from enclave.gateway.sql.auto import histogram, totals_at
from enclave.gateway.sql.bounded import KEPT_STATS, as_stat
from enclave.gateway.sql.rewrite import bounded_query
from enclave.gateway.sql.stats import piece_stats
from enclave.gateway.values import Bounded, Exact, Executed, GatewayContext, Plan, advance
from enclave.noise import Record, RowsChoice, ValueHistogram, choose_rows, rows_kept
from enclave.policy import DatasetPolicy

__all__ = ["AUTO_NOTE", "auto_mechanism", "choose_bound", "choose_rows_bound", "rows_noise"]

AUTO_NOTE = "rows per person chosen privately by least expected error (auto)"


def _noise_pieces(plan: Plan) -> list[list[Piece]]:
    """Per aggregate, the pieces whose noise grows with the rows bound."""
    by_aggregate: dict[str, list[Piece]] = {}
    for p in plan_pieces(plan.aggregates, plan.epsilon_split):
        if p.id != SELECTION and (p.stat != "quantile" or p.id == p.aggregate):
            by_aggregate.setdefault(p.aggregate, []).append(p)
    return list(by_aggregate.values())


def rows_noise(plan: Plan, ds: DatasetPolicy) -> Callable[[int], float]:
    """The query's noise at rows bound ``c``, in rows: each piece's noise std over what one
    row adds to it (1 for counts; half its value bound for sums — a typical value, since
    the bound is a clamp), added in quadrature within an aggregate, the root mean square
    over aggregates, times the number of public cells (the total over cells, compared with
    the rows dropped over all cells; a private key counts as one cell).

    >>> from enclave.gateway.values import Aggregate
    >>> plan = Plan("", "__pid", (), (Aggregate("n", "count", None, id="a0"),), "auto", 1,
    ...             1.0, 0.0, {"rows_bound": 0.1, "a0": 0.9}, ("n",))
    >>> [round(rows_noise(plan, None)(c), 2) for c in (1, 2)]
    [1.52, 3.12]
    """
    cells = key_combinations([k.key_set for k in plan.keys], ds, unknown=1) if plan.keys else 1
    groups = _noise_pieces(plan)
    g = plan.groups_per_person

    def noise(c: int) -> float:
        total = 0.0
        for ps in groups:
            for p in ps:
                unit = sensitivity(p, rows=1, groups=g) * (0.5 if p.stat in VALUE_PIECES else 1.0)
                sd = piece_noise(plan, p, c).std  # discrete Laplace, or Gaussian (zcdp)
                total += (sd / unit) ** 2
        return cells * math.sqrt(total / max(1, len(groups)))

    return noise


def choose_rows_bound(
    counts: Sequence[int],
    persons: Sequence[int],
    plan: Plan,
    ds: DatasetPolicy,
    record: Record | None = None,
    ceiling: int | None = None,
    extra: Callable[[int, Sequence[float]], float] | None = None,
) -> RowsChoice:
    """The DP choice of the rows bound from the histogram (rows per person, persons).

    ``extra``: the clamped aggregates' error at each bound (``release.clamp.clamp_error``);
    they are then left out of ``rows_noise``, which would take half their widest bound as
    a row's value."""
    noise_plan = plan
    if extra is not None:
        by_row = {a.id for a in row_clamped(plan.aggregates)}
        others = tuple(a for a in plan.aggregates if a.id not in by_row)
        noise_plan = dataclasses.replace(plan, aggregates=others)
    return choose_rows(
        counts,
        persons,
        cap=ds.contribution.auto_max_rows,
        epsilon=pure_epsilon(plan, AUTO),
        noise=rows_noise(noise_plan, ds),
        ceiling=ceiling,
        record=record,
        extra=extra,
    )


def _kept_per_row(choice: RowsChoice) -> Callable[[ValueHistogram], float]:
    """Per value histogram (read at bound 1), the rows the chosen bound keeps per row of it:
    the scale of its bins at the bound (all from the DP histograms)."""
    kept = rows_kept(choice.candidates, choice.kept, choice.bound) if choice.kept else 0.0
    return lambda hist: scaled(kept, hist)


def auto_mechanism(plan: Plan, choice: RowsChoice | None) -> dict[str, Any]:
    """The release's description of the auto bound's mechanism and what it saw (all DP)."""
    out: dict[str, Any] = {
        "mechanism": "least expected error over a noisy histogram of rows per person "
        "(OpenDP discrete Laplace, sensitivity 1)",
        "label": "rows per person (auto bound)",
        "epsilon": plan.epsilon_split[AUTO],
    }
    if choice is not None:
        out.update(
            candidates=list(choice.candidates),
            noisy_persons=list(choice.noisy_persons),
            scale=choice.scale,
            estimated_rows_dropped=round(choice.rows_dropped, 1),
            fallback=choice.fallback,
        )
    return out


def choose_bound(state: Executed, ctx: GatewayContext) -> Bounded:
    """Exact bounded totals at a numeric rows bound (chosen privately for "auto")."""
    plan = state.plan
    losses = Losses()
    if plan.rows_per_person != "auto":
        plan, rows, clamps, _ = choose_clamps(plan, state.rows, ctx.dataset, losses)
        exact = Exact(state.columns[: len(_columns(plan))], rows, {})
        return advance(
            state,
            Bounded,
            plan=plan,
            exact=exact,
            measurements=losses.measurements(),
            clamp_choices=clamps,
        )
    nk = len(plan.keys)
    cap = ctx.dataset.contribution.auto_max_rows
    ask = state.request
    width = ask.half_width if ask.epsilon is None else None
    ceiling = rows_ceiling(width, plan, cap)
    hist = histogram(state.rows, nk)
    stats = piece_stats(plan.aggregates, plan.epsilon_split)
    measured: Mapping[str, Measured] = {}
    by_row = [a.id for a in row_clamped(plan.aggregates)]
    if by_row:  # row clamps: value histograms read at bound 1, before c is chosen
        at_one = totals_at(state.rows, n_keys=nk, stats=stats, c=1)
        measured = measure_clamps(plan, at_one, 1, losses, by_row)
    extra = clamp_error(plan, ctx.dataset, measured) if measured else None
    choice = choose_rows_bound(
        *hist, plan, ctx.dataset, losses.recorder(AUTO), ceiling, extra=extra
    )
    notes = (*plan.notes, AUTO_NOTE)
    bounded = dataclasses.replace(plan, rows_per_person=choice.bound, notes=notes)
    bounded = by_need(bounded, choice, half_width=width is not None)
    at_c = _totals_at_bound(state, bounded, ctx, stats)
    bounded, rows, clamps, seen = choose_clamps(
        bounded, at_c, ctx.dataset, losses, measured, _kept_per_row(choice)
    )
    if seen:  # the clamps' histograms say what each value needs: split again by it
        bounded = by_need(bounded, choice, half_width=width is not None, seen=seen)
    return advance(
        state,
        Bounded,
        plan=bounded,
        exact=Exact(_columns(bounded), rows, {}),
        measurements=losses.measurements(),
        rows_choice=auto_mechanism(plan, choice),
        clamp_choices=clamps,
    )


def _totals_at_bound(
    state: Executed, bounded: Plan, ctx: GatewayContext, stats: Sequence[Any]
) -> Sequence[Sequence[Any]]:
    """The exact totals at the chosen bound: rebuilt from the one pass's buckets, or — when
    a stat clamps the share a (person, group) keeps (an AVG's sum: not additive over a
    bucket) — read by the bounded SQL at that bound, a second pass."""
    c = int(bounded.rows_per_person)
    if not any(as_stat(s).stat in KEPT_STATS for s in stats):
        return totals_at(state.rows, n_keys=len(bounded.keys), stats=stats, c=c)
    sql = bounded_query(bounded, ctx.dataset, query_salt(state.normalized_sql))
    return run_sql(ctx.engine, sql, state.deadline, request_limit(ctx.settings))[1]


def _columns(plan: Plan) -> tuple[str, ...]:
    """The bounded totals' columns: the keys, then one per SQL piece (or a row count)."""
    stats = piece_stats(plan.aggregates, plan.epsilon_split)
    nk = len(plan.keys)
    return (*(f"__k{i}" for i in range(nk)), *(f"__v{i}" for i in range(max(1, len(stats)))))
