"""Researcher expressions reach the engine in a form that cannot raise for any row value.

The front half types every expression (``rules.total_expressions``) and computes in DOUBLE
(``rules.promote_numbers``); this is the second, independent layer. Any expression that
is not built only from nodes that cannot fail — columns, literals, comparisons, AND / OR /
NOT, IS, IN, BETWEEN, LIKE and casts to DOUBLE or VARCHAR — is wrapped in DuckDB's
``TRY(…)``, which turns a row-level error into NULL. A filter conjunct that would have
failed then drops its row, a key becomes NULL and an aggregate argument adds nothing: each
a function of that row alone, never a failure of the whole query. On Spark, which has no
``TRY``, the wrapper is removed and ANSI mode is off, which gives the same NULLs.

>>> import sqlglot
>>> guard_conjuncts(sqlglot.parse_one("c.setting = 'x' AND c.los_days * 2 > 1", dialect="duckdb")).sql()
"c.setting = 'x' AND TRY(c.los_days * 2 > 1)"
>>> guard(sqlglot.parse_one("c.amount", dialect="duckdb")).sql()
'c.amount'
"""

from __future__ import annotations

from sqlglot import exp

from enclave.gateway.check.kinds import COMPARISONS, LEAVES, LOGIC, TESTS

__all__ = ["cannot_fail", "guard", "guard_conjuncts"]

_TOTAL_NODES: tuple[type[exp.Expr], ...] = (
    exp.Column,
    exp.Identifier,
    *LEAVES,
    *COMPARISONS,
    *LOGIC,
    *TESTS,
    exp.Like,
    exp.ILike,
    exp.Escape,
    exp.DataType,
)
_SAFE_CASTS = {"DOUBLE", "VARCHAR", "TEXT"}


def _node_cannot_fail(node: exp.Expression) -> bool:
    if isinstance(node, exp.Cast):
        return type(node) is exp.Cast and node.to.this.name.upper() in _SAFE_CASTS
    return isinstance(node, _TOTAL_NODES)


def cannot_fail(node: exp.Expr) -> bool:
    """True when every node of ``node`` is one that raises for no input value."""
    return all(_node_cannot_fail(n) for n in node.walk() if isinstance(n, exp.Expression))


def guard(node: exp.Expr) -> exp.Expr:
    """``node`` itself when it cannot fail, else ``TRY(node)``."""
    if cannot_fail(node):
        return node
    return exp.Try(this=node.copy())


def guard_conjuncts(condition: exp.Expr) -> exp.Expr:
    """Guard each AND-ed part separately, so simple filters stay bare (and push down)."""
    parts = list(condition.flatten()) if isinstance(condition, exp.And) else [condition]
    guarded = [guard(p.unnest() if isinstance(p, exp.Paren) else p) for p in parts]
    if len(guarded) == 1:
        return guarded[0]
    return exp.and_(*guarded)
