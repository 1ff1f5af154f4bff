"""Key sets derived from public domains, for one group key of a planned query.

A group key that is a function of columns with public domains (``plan.domains``) — over
one table or several joined ones — gets as key set the image of those domains under the
key (``domains.image``), restricted by the query's ``WHERE`` conjuncts that read only the
same columns (a row that fails them is filtered out anyway: ``WHERE age BETWEEN 60 AND
65`` then releases those six ages only). Everything here is a function of the policy and
the query text, never of data.

A derived key set is named after the key (over ``table.column`` names) and a digest of
its exact expression, filter and domains, and kept by that name in the dataset policy's
``derived_key_sets`` (``remember``), where the key filter and the noise stage find it as
they find a declared key set.
"""

from __future__ import annotations

import hashlib
import threading
import time
from dataclasses import dataclass

import sqlglot.expressions as exp

from enclave.errors import QueryRejected
from enclave.gateway.plan.domains import Domain, column_domain, image
from enclave.gateway.plan.sources import Scope
from enclave.gateway.plan.total import guard
from enclave.policy import DatasetPolicy, KeySet

__all__ = ["KEEP_S", "MEMO_ENTRIES", "MEMO_VALUES", "derived_key_set", "remember"]

#: nodes a derived key may not hold (they are not functions of one row's columns)
_NOT_SCALAR = (exp.AggFunc, exp.Window, exp.Subquery, exp.Select, exp.Star, exp.Exists)
#: derived key sets a dataset policy keeps, their values in all, and how long one is kept
#: after its last use (longer than any request runs, so a planned query finds its set)
MEMO_ENTRIES, MEMO_VALUES, KEEP_S = 1024, 1_000_000, 3600.0
_LOCK = threading.Lock()


@dataclass(frozen=True)
class _Derived(KeySet):
    """A derived key set and when a plan last used it (``time.monotonic``)."""

    used: float = 0.0


def remember(
    ds: DatasetPolicy, name: str, values: tuple[str | int, ...], now: float | None = None
) -> KeySet | None:
    """Keep a derived key set in ``ds.derived_key_sets``; None when there is no room.

    Room is made by dropping sets no plan used for ``KEEP_S`` seconds, never one a query
    being answered may still read. ``now`` is ``time.monotonic()`` unless given.
    """
    now = time.monotonic() if now is None else now
    with _LOCK:
        memo = ds.derived_key_sets
        if memo.pop(name, None) is None:
            total = sum(len(k.values) for k in memo.values())
            while memo and (len(memo) >= MEMO_ENTRIES or total + len(values) > MEMO_VALUES):
                first = next(iter(memo))
                if now - getattr(memo[first], "used", 0.0) < KEEP_S:
                    return None
                total -= len(memo.pop(first).values)
        entry = _Derived(name, values, used=now)
        memo[name] = entry
        return entry


#: one column a derived key reads: its table, its name and its public domain
Variable = tuple[str, str, Domain]


class _Variables:
    """The source columns a key reads, as DuckDB columns ``v0, v1…`` of the domain table."""

    def __init__(self, scope: Scope, ds: DatasetPolicy) -> None:
        self.scope, self.ds = scope, ds
        self.names: dict[tuple[str, str], int] = {}
        self.found: list[Variable] = []

    def over(self, expr: exp.Expr, grow: bool) -> exp.Expr:
        """``expr`` over ``v<i>``; LookupError when a column has no public domain (or, with
        ``grow`` False, is not one of the columns already found)."""

        def swap(node: exp.Expression) -> exp.Expression:
            if not isinstance(node, exp.Column):
                return node
            src = self.scope.source_of(node)

            def var(col: exp.Expression) -> exp.Expression:
                if not isinstance(col, exp.Column):
                    return col
                ref = (src.alias, col.name.lower())
                if ref not in self.names:
                    domain = column_domain(src.table, ref[1], self.ds) if grow else None
                    if domain is None:
                        raise LookupError(ref[1])
                    self.names[ref] = len(self.found)
                    self.found.append((src.table.name, ref[1], domain))
                return exp.column(f"v{self.names[ref]}")

            return self.scope.definition(node).transform(var)

        mapped = expr.copy().transform(swap)
        if any(isinstance(n, _NOT_SCALAR) for n in mapped.walk()):
            raise LookupError("not a function of one row")
        return mapped


def _where(scope: Scope, variables: _Variables) -> exp.Expr | None:
    """The WHERE conjuncts over the key's columns only, guarded, AND-ed (None if none)."""
    where = scope.ast.args.get("where")
    if where is None:
        return None
    condition = where.this
    parts = list(condition.flatten()) if isinstance(condition, exp.And) else [condition]
    kept: list[exp.Expr] = []
    for part in parts:
        if any(isinstance(n, _NOT_SCALAR) for n in part.walk()):
            continue
        try:
            kept.append(guard(variables.over(part.unnest(), grow=False)))
        except (LookupError, QueryRejected):
            continue
    return exp.and_(*kept) if kept else None


def _name(expr: exp.Expr, where: exp.Expr | None, variables: list[Variable]) -> str:
    """The key over ``table.column`` names, and a digest of the exact expression, filter
    and domains (two keys share a name only if they share an image)."""
    exact = (expr.sql(dialect="duckdb"), None if where is None else where.sql(dialect="duckdb"))
    digest = hashlib.sha256(repr((exact, [v[2] for v in variables])).encode()).hexdigest()

    def plain(node: exp.Expression) -> exp.Expression:
        if isinstance(node, exp.Cast) and node.to.this == exp.DataType.Type.DOUBLE:
            return node.this.transform(plain)
        if isinstance(node, exp.Column):
            table, column, _ = variables[int(node.name[1:])]
            return exp.column(column, table=table)
        return node

    shown = expr.this if isinstance(expr, exp.Try) else expr
    return f"{shown.transform(plain).sql(dialect='duckdb')} [{digest[:8]}]"


def derived_key_set(key: exp.Expression, scope: Scope, ds: DatasetPolicy) -> KeySet | None:
    """The key set of ``key`` derived from its columns' public domains, or None."""
    variables = _Variables(scope, ds)
    try:
        expr = guard(variables.over(key, grow=True))
    except LookupError:
        return None
    where = _where(scope, variables)
    name = _name(expr, where, variables.found)
    known = ds.derived_key_sets.get(name)
    values = known.values if known is not None else None
    if values is None:
        domains = tuple(v[2] for v in variables.found)
        condition = None if where is None else where.sql(dialect="duckdb")
        values = image(expr.sql(dialect="duckdb"), domains, ds.limits.max_private_groups, condition)
    if values is None or len(values) > ds.limits.max_private_groups:
        return None
    return remember(ds, name, values)
