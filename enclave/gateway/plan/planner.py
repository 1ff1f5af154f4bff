"""Stage ``plan``: what will be computed, with which bounds, and how much ε each part gets.

Builds a ``Plan`` from the checked AST: the relation (FROM/JOIN/WHERE as one SELECT that
yields, per joined row, the person ``__pid``, the keys ``__k0…`` and the clamped aggregate
arguments ``__a0…``), the group keys (public or private), the aggregates with bounds from
interval arithmetic, the contribution bounds, ε (request, half-width or default; capped by
the project) and δ (private keys only), and the ε split (see ``plan.pieces``).
"""

from __future__ import annotations

import dataclasses

import sqlglot.expressions as exp

from enclave.engines.hashing import query_salt
from enclave.errors import InternalError, QueryRejected
from enclave.gateway.plan.aggregates import parse_aggregate
from enclave.gateway.plan.contribution import (
    PERSON_KEYS_NOTE,
    groups_bound,
    person_level,
    rows_bound,
)
from enclave.gateway.plan.epsilon import choose_epsilon, query_delta, split_epsilon
from enclave.gateway.plan.joins import bound_join_fanout
from enclave.gateway.plan.keys import key_set_for, key_sql
from enclave.gateway.plan.pieces import Piece, pieces, selection_piece
from enclave.gateway.plan.sources import Scope
from enclave.gateway.plan.total import guard, guard_conjuncts
from enclave.gateway.values import Aggregate, GatewayContext, GroupKey, Plan, QueryState
from enclave.policy import DatasetPolicy

__all__ = ["plan"]


def _items(ast: exp.Select) -> list[exp.Expression]:
    group = ast.args.get("group")
    return list(group.expressions) if group is not None else []


def _is_aggregate(node: exp.Expression) -> bool:
    return isinstance(node, exp.AggFunc) or bool(list(node.find_all(exp.AggFunc)))


def _having_sql(node: exp.Expression | None) -> str | None:
    return None if node is None else node.this.sql(dialect="duckdb")


def _order_sql(node: exp.Expression | None) -> str | None:
    if node is None:
        return None
    return ", ".join(o.sql(dialect="duckdb") for o in node.expressions)


def _guard_conditions(relation: exp.Select) -> None:
    """WHERE and ON parts that could fail on some row are wrapped in TRY (``_total_sql``)."""
    where = relation.args.get("where")
    if where is not None:
        where.set("this", guard_conjuncts(where.this))
    for join in relation.args.get("joins") or ():
        if join.args.get("on") is not None:
            join.set("on", guard_conjuncts(join.args["on"]))


def _limit_quantile_work(
    aggregates: list[Aggregate], keys: list[GroupKey], ds: DatasetPolicy
) -> None:
    """Per-group quantiles run in Python: bound their number before any data is read."""
    quantiles = sum(1 for a in aggregates if a.kind == "quantile")
    if not quantiles:
        return
    groups = 1
    for k in keys:
        ks = ds.key_set(k.key_set) if k.key_set else None
        groups *= len(ks.values) if ks is not None else ds.limits.max_private_groups
    groups = min(groups, ds.limits.max_private_groups)
    if groups * quantiles > ds.limits.max_quantile_groups:
        raise QueryRejected(
            f"MEDIAN / QUANTILE_CONT are released per group, at most "
            f"{ds.limits.max_quantile_groups} group × quantile releases per query; this query "
            "could need more. Group by fewer or public keys, or ask fewer quantiles."
        )


def plan(state: QueryState, ctx: GatewayContext) -> QueryState:
    """Fill ``state.plan``; refuse with QueryRejected / PolicyViolation when impossible."""
    if state.ast is None or state.project is None:
        raise InternalError("plan needs a parsed, authorised query")
    if not isinstance(state.ast, exp.Select):
        raise QueryRejected("Only a single SELECT can be answered.")
    ds, project = ctx.dataset, state.project
    ast = state.ast.copy()
    scope = Scope.build(ast, ds)
    person = scope.person_sql()

    group_exprs = _items(ast)
    group_text = [g.sql(dialect="duckdb") for g in group_exprs]
    keys: list[GroupKey] = []
    cols: list[str] = [f"{person} AS __pid"]
    for i, g in enumerate(group_exprs):
        ks = key_set_for(g, scope, ds)
        keys.append(GroupKey(f"__k{i}", f"__k{i}", ks.name if ks else None))
        cols.append(f"{key_sql(guard(g), ks)} AS __k{i}")
    groups = groups_bound(group_exprs, [k.key_set for k in keys], scope, ds)

    aggregates: list[Aggregate] = []
    outputs: list[str] = []
    key_names: dict[int, str] = {}
    for item in ast.expressions:
        inner = item.this if isinstance(item, exp.Alias) else item
        name = item.alias_or_name
        if not _is_aggregate(inner):
            text = inner.sql(dialect="duckdb")
            if text not in group_text:
                raise QueryRejected(
                    f"{name} is neither an aggregate nor a GROUP BY key; group by it or "
                    "aggregate it."
                )
            key_names[group_text.index(text)] = name
            outputs.append(name)
            continue
        j = len(aggregates)
        agg, arg_sql = parse_aggregate(inner, name, f"__a{j}", scope)
        agg = dataclasses.replace(agg, id=f"a{j}")
        if arg_sql is not None:
            cols.append(f"{arg_sql} AS __a{j}")
        aggregates.append(agg)
        outputs += [name, f"{name}_se", f"{name}_ci_low", f"{name}_ci_high"]
    if not aggregates:
        raise QueryRejected("Select at least one aggregate (COUNT, SUM, AVG, ...).")
    if len(set(outputs)) != len(outputs):
        raise QueryRejected("Output column names must be distinct; add aliases with AS.")
    keys = [dataclasses.replace(k, alias=key_names.get(i, k.alias)) for i, k in enumerate(keys)]

    private = any(k.key_set is None for k in keys)
    delta = query_delta(project, keys) if private else 0.0
    # private keys: always their own selection draw, so released values stay independent
    extra: list[Piece] = [selection_piece()] if private else []
    rows = rows_bound(aggregates, bool(extra), ds.contribution.rows_per_person)
    contrib = dataclasses.replace(ds.contribution, rows_per_person=rows)
    all_pieces = [p for a in aggregates for p in pieces(a)] + extra
    epsilon, notes = choose_epsilon(state.request, project, contrib, all_pieces, groups)
    if person_level(group_exprs, scope):
        notes.append(PERSON_KEYS_NOTE)
    split = split_epsilon(
        epsilon, aggregates, extra, auto=rows == "auto", auto_share=contrib.auto_epsilon_share
    )

    relation = ast.copy()
    relation.set("expressions", [exp.maybe_parse(c, dialect="duckdb") for c in cols])
    for arg in ("group", "having", "order", "limit", "offset"):
        relation.set(arg, None)
    _guard_conditions(relation)
    fanout = bound_join_fanout(relation, ds, query_salt(state.normalized_sql or ""))
    if fanout is not None:
        notes.append(f"joined event tables: at most {fanout} rows per person each")
    _limit_quantile_work(aggregates, keys, ds)
    limit = ast.args.get("limit")
    new_plan = Plan(
        relation_sql=relation.sql(dialect="duckdb"),
        person_column="__pid",
        keys=tuple(keys),
        aggregates=tuple(aggregates),
        rows_per_person=rows,
        groups_per_person=groups,
        epsilon=epsilon,
        delta=delta,
        epsilon_split=split,
        output_columns=tuple(outputs),
        having_sql=_having_sql(ast.args.get("having")),
        order_sql=_order_sql(ast.args.get("order")),
        limit=int(limit.expression.name) if limit is not None else None,
        notes=tuple(notes),
        join_rows_per_table=fanout,
    )
    return dataclasses.replace(state, plan=new_plan)
