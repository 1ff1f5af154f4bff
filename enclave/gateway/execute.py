"""The stages that read data: ``execute`` and ``read_histograms``.

``execute`` runs ``state.rewritten_sql`` (the bounded totals, or for an ``"auto"`` plan the
one-pass query that also returns the rows-per-person histogram: see ``release.bound``).
``read_histograms`` runs, for each MEDIAN / QUANTILE_CONT, the SQL of its bounded value
histogram at the rows bound the plan now has (``sql.rewrite.quantile_queries``, same bounds
and salt). Both get only what is left of the request's deadline; the engine maps its own
errors to generic ``QueryRejected`` messages. Nothing read here leaves the gateway except
through ``release.noise``.
"""

from __future__ import annotations

from enclave.engines.hashing import query_salt
from enclave.gateway.deadline import request_limit, run_sql
from enclave.gateway.plan.pieces import plan_pieces
from enclave.gateway.sql.rewrite import quantile_queries
from enclave.gateway.values import (
    Bounded,
    Exact,
    Executed,
    GatewayContext,
    Histogrammed,
    Rewritten,
    advance,
)

__all__ = ["execute", "read_histograms"]


def execute(state: Rewritten, ctx: GatewayContext) -> Executed:
    """The engine's exact answer to the rewritten SQL (never released)."""
    plan = state.plan
    if plan.rows_per_person != "auto" and not any(
        p.in_sql for p in plan_pieces(plan.aggregates, plan.epsilon_split)
    ):  # quantiles only: their histograms carry the data
        return advance(state, Executed, columns=(), rows=())
    limit = request_limit(ctx.settings)
    cols, rows = run_sql(ctx.engine, state.rewritten_sql, state.deadline, limit)
    return advance(state, Executed, columns=cols, rows=tuple(rows))


def read_histograms(state: Bounded, ctx: GatewayContext) -> Histogrammed:
    """Each quantile aggregate's bounded value histogram, at the plan's rows bound."""
    salt = query_salt(state.normalized_sql)
    limit = request_limit(ctx.settings)
    histograms = {
        key: run_sql(ctx.engine, sql, state.deadline, limit)[1]
        for key, sql in quantile_queries(state.plan, ctx.dataset, salt).items()
    }
    exact = Exact(state.exact.columns, state.exact.rows, histograms)
    return advance(state, Histogrammed, exact=exact)
