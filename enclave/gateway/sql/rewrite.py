"""Stage ``rewrite``: the exact bounded SQL (contribution bounds, clamps, public key filter).

With ``rows_per_person = "auto"`` the SQL is the one-pass query of ``sql.auto``: it
returns the histogram of per-person row counts (after filters and joins) and the bounded
totals for every possible bound; the ``choose_bound`` stage lets OpenDP's
``make_private_quantile`` choose the bound among 1..auto_max_rows with the planned auto share
of ε (a DP release, written into the plan) and keeps the totals at that bound. No query
runs here.
"""

from __future__ import annotations

from enclave.engines.hashing import query_salt
from enclave.errors import InternalError
from enclave.gateway.sql.auto import auto_totals_sql
from enclave.gateway.sql.bounded import Strategy, bounded_sql, input_ctes
from enclave.gateway.sql.quantile import quantile_sql
from enclave.gateway.sql.stats import piece_stats
from enclave.gateway.values import GatewayContext, Plan, Planned, Rewritten, advance
from enclave.policy import DatasetPolicy

__all__ = [
    "STRATEGY",
    "auto_query",
    "bounded_query",
    "key_filters",
    "quantile_queries",
    "rewrite",
]

#: Measured faster than row_number() ranking (docs/privacy-model.md, bench/gateway.py).
STRATEGY: Strategy = "preagg"


def _literal(v: str | int) -> str:
    return str(int(v)) if isinstance(v, int) else "'" + str(v).replace("'", "''") + "'"


def key_filters(plan: Plan, ds: DatasetPolicy) -> list[str]:
    """Keep only rows whose public keys are in their key set (others are not released)."""
    out = []
    for k in plan.keys:
        if k.key_set is None:
            continue
        ks = ds.key_set(k.key_set)
        if ks is None:
            raise InternalError("plan names an unknown key set")
        out.append(f"{k.sql} IN ({', '.join(_literal(v) for v in ks.values)})")
    return out


def bounded_query(plan: Plan, ds: DatasetPolicy, salt: str, strategy: Strategy = STRATEGY) -> str:
    """The exact bounded SQL for a plan whose rows bound is already a number."""
    if not isinstance(plan.rows_per_person, int):
        raise InternalError("rows bound must be chosen before the bounded SQL is built")
    return bounded_sql(
        plan.relation_sql,
        n_keys=len(plan.keys),
        stats=piece_stats(plan.aggregates, plan.epsilon_split),
        rows=plan.rows_per_person,
        groups=plan.groups_per_person,
        salt=salt,
        key_filters=key_filters(plan, ds),
        strategy=strategy,
    )


def quantile_queries(plan: Plan, ds: DatasetPolicy, salt: str) -> dict[str, str]:
    """Per quantile aggregate, the SQL of its bounded value histogram."""
    if not isinstance(plan.rows_per_person, int):
        raise InternalError("rows bound must be chosen before the bounded SQL is built")
    head = input_ctes(plan.relation_sql, key_filters(plan, ds))
    return {
        a.id: quantile_sql(
            head,
            n_keys=len(plan.keys),
            agg=a,
            rows=plan.rows_per_person,
            groups=plan.groups_per_person,
            salt=salt,
        )
        for a in plan.aggregates
        if a.kind == "quantile"
    }


def auto_query(plan: Plan, ds: DatasetPolicy, salt: str) -> str:
    """The one-pass SQL of an "auto" plan: totals for every c and the rows histogram."""
    return auto_totals_sql(
        plan.relation_sql,
        n_keys=len(plan.keys),
        stats=piece_stats(plan.aggregates, plan.epsilon_split),
        groups=plan.groups_per_person,
        salt=salt,
        key_filters=key_filters(plan, ds),
        cap=ds.contribution.auto_max_rows,
    )


def rewrite(state: Planned, ctx: GatewayContext) -> Rewritten:
    """The bounded totals SQL, or the one-pass "auto" query (its bound is chosen later, by
    ``release.bound.choose_bound``, from the histogram the same query returns)."""
    plan = state.plan
    salt = query_salt(state.normalized_sql)
    if plan.rows_per_person == "auto":
        return advance(state, Rewritten, rewritten_sql=auto_query(plan, ctx.dataset, salt))
    return advance(state, Rewritten, rewritten_sql=bounded_query(plan, ctx.dataset, salt))
