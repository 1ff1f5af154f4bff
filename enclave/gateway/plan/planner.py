"""Stage ``plan``: what will be computed, with which bounds, and how much ε each part gets.

Builds a ``Plan`` from the checked AST: the relation (FROM/JOIN/WHERE as one SELECT that
yields, per joined row, the person ``__pid``, the keys ``__k0…`` and the clamped aggregate
arguments ``__a0…``), the group keys (public or private), the aggregates with bounds from
interval arithmetic, the contribution bounds, ε (request, half-width or default; capped by
the project) and δ (private keys only), and the ε split (see ``plan.pieces``).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Literal

import sqlglot.expressions as exp

from enclave.engines.hashing import query_salt
from enclave.errors import QueryRejected
from enclave.gateway.plan.aggregates import parse_aggregate
from enclave.gateway.plan.clamps import clamped, group_clamped
from enclave.gateway.plan.contribution import (
    NO_ROWS_BOUND,
    PERSON_KEYS_NOTE,
    groups_bound,
    groups_unbound,
    person_level,
    rows_bound,
)
from enclave.gateway.plan.epsilon import choose_epsilon, query_delta, split_epsilon
from enclave.gateway.plan.joins import bound_join_fanout
from enclave.gateway.plan.keys import key_combinations, key_set_for, key_sql
from enclave.gateway.plan.person_level import (
    STRUCTURAL_NOTE,
    dataset_with,
    inline_bodies,
    rows_structural,
)
from enclave.gateway.plan.pieces import Piece, pieces, selection_piece
from enclave.gateway.plan.sources import Scope
from enclave.gateway.plan.total import guard, guard_conjuncts
from enclave.gateway.values import (
    Aggregate,
    Checked,
    GatewayContext,
    GroupKey,
    Plan,
    Planned,
    advance,
)
from enclave.policy import ContributionPolicy, DatasetPolicy, ProjectPolicy, accounting_of

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


def _limit_public_domain(keys: list[GroupKey], ds: DatasetPolicy) -> None:
    """Every public key combination is released: refuse too many before anything is read."""
    if keys and all(k.key_set for k in keys):
        limit = ds.limits.max_private_groups
        if key_combinations([k.key_set for k in keys], ds, unknown=limit) > limit:
            raise QueryRejected("Too many public key combinations; group by fewer keys.")


def _limit_quantile_work(
    aggregates: list[Aggregate], keys: list[GroupKey], ds: DatasetPolicy
) -> None:
    """Per-group quantiles run in Python: bound their number before any data is read."""
    quantiles = sum(1 for a in aggregates if a.kind == "quantile")
    if not quantiles:
        return
    limit = ds.limits.max_private_groups
    groups = min(key_combinations([k.key_set for k in keys], ds, unknown=limit), limit)
    if groups * quantiles > ds.limits.max_quantile_groups:
        raise QueryRejected(
            f"MEDIAN / QUANTILE_CONT are released per group, at most "
            f"{ds.limits.max_quantile_groups} group × quantile releases per query; this query "
            "could need more. Group by fewer or public keys, or ask fewer quantiles."
        )


@dataclass(frozen=True)
class _Items:
    """The SELECT list split into group keys and aggregates, with the relation's columns."""

    keys: list[GroupKey]
    aggregates: list[Aggregate]
    columns: list[str]
    outputs: list[str]


def _keys(group_exprs: list[exp.Expression], scope: Scope, ds: DatasetPolicy) -> _Items:
    items = _Items([], [], [f"{scope.person_sql()} AS __pid"], [])
    for i, g in enumerate(group_exprs):
        ks = key_set_for(g, scope, ds)
        items.keys.append(GroupKey(f"__k{i}", f"__k{i}", ks.name if ks else None))
        items.columns.append(f"{key_sql(guard(g), ks)} AS __k{i}")
    return items


def _items_of(
    ast: exp.Select, group_exprs: list[exp.Expression], scope: Scope, ds: DatasetPolicy
) -> _Items:
    """Keys (named by their output alias) and aggregates (``a<j>``) of the SELECT list."""
    items = _keys(group_exprs, scope, ds)
    group_text = [g.sql(dialect="duckdb") for g in group_exprs]
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
            items.outputs.append(name)
            continue
        j = len(items.aggregates)
        agg, arg_sql = parse_aggregate(inner, name, f"__a{j}", scope)
        if arg_sql is not None:
            items.columns.append(f"{arg_sql} AS __a{j}")
        items.aggregates.append(dataclasses.replace(agg, id=f"a{j}"))
        items.outputs.extend([name, f"{name}_se", f"{name}_ci_low", f"{name}_ci_high"])
    if not items.aggregates:
        raise QueryRejected("Select at least one aggregate (COUNT, SUM, AVG, ...).")
    if len(set(items.outputs)) != len(items.outputs):
        raise QueryRejected("Output column names must be distinct; add aliases with AS.")
    keys = [
        dataclasses.replace(k, alias=key_names.get(i, k.alias)) for i, k in enumerate(items.keys)
    ]
    return dataclasses.replace(items, keys=keys)


def _relation(
    ast: exp.Select, columns: list[str], ds: DatasetPolicy, salt: str, state: Checked
) -> tuple[str, int | None]:
    """FROM/JOIN/WHERE as one SELECT of the relation's columns, guarded and join-bounded."""
    relation = ast.copy()
    relation.set("expressions", [exp.maybe_parse(c, dialect="duckdb") for c in columns])
    for arg in ("group", "having", "order", "limit", "offset"):
        relation.set(arg, None)
    _guard_conditions(relation)
    fanout = bound_join_fanout(relation, ds, salt)
    inline_bodies(relation, state.person_tables)
    return relation.sql(dialect="duckdb"), fanout


def _in_rho(
    project: ProjectPolicy,
    epsilon: float,
    aggregates: list[Aggregate],
    extra: list[Piece],
    rows: int | Literal["auto"],
    contrib: ContributionPolicy,
) -> tuple[float, dict[str, float]]:
    """A zcdp project's ρ for the query's ε (``Accounting.rho``) and its split, in the
    shares of the ε split (``plan.accounting``); nothing for a pure project."""
    accounting = accounting_of(project)
    if not accounting.zcdp:
        return 0.0, {}
    rho = accounting.rho(epsilon)
    auto_share = contrib.auto_epsilon_share
    return rho, split_epsilon(rho, aggregates, extra, auto=rows == "auto", auto_share=auto_share)


def _bounded(
    aggregates: list[Aggregate], structural: bool, selection: bool, ds: DatasetPolicy
) -> tuple[list[Aggregate], int | Literal["auto"]]:
    """The aggregates with SUMs clamping (person, group) totals (unless every table read
    has one row per person: then a row is that total), and the rows bound."""
    if not structural:
        aggregates = group_clamped(aggregates, ds.contribution.auto_max_rows)
    rows = rows_bound(aggregates, selection, ds.contribution.rows_per_person)
    if rows != NO_ROWS_BOUND and structural:
        rows = 1  # every table read has one row per person: nothing to choose
    return aggregates, rows


def plan(state: Checked, ctx: GatewayContext) -> Planned:
    """The plan of a checked query; refuse with QueryRejected / PolicyViolation when impossible."""
    ds, project = dataset_with(ctx.dataset, state.person_tables), state.project
    ast = state.ast.copy()
    scope = Scope.build(ast, ds)
    group_exprs = _items(ast)
    items = _items_of(ast, group_exprs, scope, ds)
    keys, aggregates = items.keys, items.aggregates
    groups = groups_bound(group_exprs, [k.key_set for k in keys], scope, ds)
    private = any(k.key_set is None for k in keys)
    delta = query_delta(project, keys) if private else 0.0
    # private keys: always their own selection draw, so released values stay independent
    extra: list[Piece] = [selection_piece()] if private else []
    structural = rows_structural(scope)
    aggregates, rows = _bounded(aggregates, structural, bool(extra), ds)
    if not extra:
        groups = groups_unbound(groups, [k.key_set for k in keys], aggregates, rows, ds)
    contrib = dataclasses.replace(ds.contribution, rows_per_person=rows)
    all_pieces = [p for a in aggregates for p in pieces(a)] + extra
    clamps = bool(clamped(aggregates))
    epsilon, notes = choose_epsilon(state.request, project, contrib, all_pieces, groups, clamps)
    if person_level(group_exprs, scope):
        notes.append(PERSON_KEYS_NOTE)
    if rows == 1 and structural:
        notes.append(STRUCTURAL_NOTE)
    split = split_epsilon(
        epsilon, aggregates, extra, auto=rows == "auto", auto_share=contrib.auto_epsilon_share
    )
    rho, rho_split = _in_rho(project, epsilon, aggregates, extra, rows, contrib)
    relation_sql, fanout = _relation(
        ast, items.columns, ds, query_salt(state.normalized_sql), state
    )
    if fanout is not None:
        notes.append(f"joined event tables: at most {fanout} rows per person each")
    _limit_public_domain(keys, ds)
    _limit_quantile_work(aggregates, keys, ds)
    limit = ast.args.get("limit")
    new_plan = Plan(
        relation_sql=relation_sql,
        person_column="__pid",
        keys=tuple(keys),
        aggregates=tuple(aggregates),
        rows_per_person=rows,
        groups_per_person=groups,
        epsilon=epsilon,
        delta=delta,
        epsilon_split=split,
        output_columns=tuple(items.outputs),
        having_sql=_having_sql(ast.args.get("having")),
        order_sql=_order_sql(ast.args.get("order")),
        limit=int(limit.expression.name) if limit is not None else None,
        notes=tuple(notes),
        join_rows_per_table=fanout,
        rho=rho,
        rho_split=rho_split,
    )
    return advance(state, Planned, plan=new_plan)
