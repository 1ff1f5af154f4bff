"""Stage ``execute``: run the rewritten SQL on the engine; the only stage that reads data.

It runs ``state.rewritten_sql``. For an ``"auto"`` plan that query also returns the
histogram of rows per person: the bound is chosen here by OpenDP's DP quantile (the planned
auto ε share; ``rewrite.choose_rows_bound``), written into the plan, and the totals at that
bound are kept (``sql.auto.totals_at``) — one pass over the data instead of two. Then,
for each MEDIAN / QUANTILE_CONT, the SQL of its bounded value histogram runs
(``rewrite.quantile_queries``, same bounds and salt). The engine maps its own errors to
generic ``QueryRejected`` messages.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from enclave.engines.hashing import query_salt
from enclave.errors import InternalError
from enclave.gateway.deadline import remaining
from enclave.gateway.plan.pieces import AUTO, plan_pieces
from enclave.gateway.release.losses import Losses
from enclave.gateway.sql.auto import histogram, totals_at
from enclave.gateway.sql.rewrite import choose_rows_bound, quantile_queries
from enclave.gateway.sql.stats import piece_stats
from enclave.gateway.values import Exact, GatewayContext, QueryState

__all__ = ["execute"]


def execute(state: QueryState, ctx: GatewayContext) -> QueryState:
    """Fill ``state.exact`` with an ``Exact`` (columns, rows, histograms); never released."""
    plan = state.plan
    if state.rewritten_sql is None or plan is None or state.normalized_sql is None:
        raise InternalError("execute needs the rewritten SQL")
    columns: tuple[str, ...] = ()
    rows: list[tuple[Any, ...]] = []
    losses = Losses(state.measurements)
    nk = len(plan.keys)
    if plan.rows_per_person == "auto":
        cols, both = ctx.engine.execute(state.rewritten_sql, timeout_s=remaining(state.deadline))
        c = choose_rows_bound(*histogram(both, nk), plan, ctx.dataset, losses.recorder(AUTO))
        stats = piece_stats(plan.aggregates, plan.epsilon_split)
        rows = totals_at(both, n_keys=nk, stats=stats, c=c)
        columns = (*(f"__k{i}" for i in range(nk)), *(f"__v{i}" for i in range(max(1, len(stats)))))
        note = "rows per person chosen by a DP quantile (auto)"
        plan = dataclasses.replace(plan, rows_per_person=c, notes=(*plan.notes, note))
    elif any(p.in_sql for p in plan_pieces(plan.aggregates, plan.epsilon_split)):
        cols, rows = ctx.engine.execute(state.rewritten_sql, timeout_s=remaining(state.deadline))
        columns = tuple(cols)
    salt = query_salt(state.normalized_sql)
    histograms = {
        alias: list(ctx.engine.execute(sql, timeout_s=remaining(state.deadline))[1])
        for alias, sql in quantile_queries(plan, ctx.dataset, salt).items()
    }
    return dataclasses.replace(
        state,
        plan=plan,
        exact=Exact(columns, list(rows), histograms),
        measurements=losses.measurements(),
    )
