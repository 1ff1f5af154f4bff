"""Stage ``choose_bound``: the rows-per-person bound of an "auto" plan, chosen with DP.

For ``rows_per_person = "auto"`` the one-pass query returned the histogram of rows per
person (after filters and joins) and bucketed totals for every bound; OpenDP's
``make_private_quantile`` picks ``c`` among 1..``auto_max_rows`` at the planned auto share
of ε (``d_in = 1``: one person is one value, their row count), the plan records it, and the
exact totals at ``c`` are rebuilt from the buckets (``sql.auto.totals_at``). A plan with a
fixed bound passes its totals through. This is a DP release on exact data, so it is a stage
of its own and records its measurement.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import numpy as np

from enclave.gateway.plan.pieces import AUTO
from enclave.gateway.release.losses import Losses
from enclave.gateway.sql.auto import histogram, totals_at
from enclave.gateway.sql.stats import piece_stats
from enclave.gateway.values import Bounded, Exact, Executed, GatewayContext, Plan, advance
from enclave.noise import Record, private_quantile, quantile_candidates
from enclave.policy import DatasetPolicy

__all__ = ["choose_bound", "choose_rows_bound"]

AUTO_NOTE = "rows per person chosen by a DP quantile (auto)"


def choose_rows_bound(
    counts: Sequence[int],
    persons: Sequence[int],
    plan: Plan,
    ds: DatasetPolicy,
    record: Record | None = None,
) -> int:
    """DP quantile (OpenDP) of per-person row counts, given as a histogram, in 1..cap."""
    contrib = ds.contribution
    values = np.repeat(np.asarray(counts, dtype=np.int32), np.asarray(persons, dtype=np.int64))
    return private_quantile(
        values,
        candidates=quantile_candidates(contrib.auto_max_rows),
        alpha=contrib.auto_quantile,
        epsilon=plan.epsilon_split[AUTO],
        record=record,
    )


def choose_bound(state: Executed, ctx: GatewayContext) -> Bounded:
    """Exact bounded totals at a numeric rows bound (chosen privately for "auto")."""
    plan = state.plan
    losses = Losses()
    if plan.rows_per_person != "auto":
        exact = Exact(state.columns, list(state.rows), {})
        return advance(state, Bounded, exact=exact, measurements=())
    nk = len(plan.keys)
    c = choose_rows_bound(*histogram(state.rows, nk), plan, ctx.dataset, losses.recorder(AUTO))
    stats = piece_stats(plan.aggregates, plan.epsilon_split)
    rows = totals_at(state.rows, n_keys=nk, stats=stats, c=c)
    columns = (*(f"__k{i}" for i in range(nk)), *(f"__v{i}" for i in range(max(1, len(stats)))))
    bounded = dataclasses.replace(plan, rows_per_person=c, notes=(*plan.notes, AUTO_NOTE))
    return advance(
        state,
        Bounded,
        plan=bounded,
        exact=Exact(columns, rows, {}),
        measurements=losses.measurements(),
    )
