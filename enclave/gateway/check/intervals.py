"""Bounds of an aggregate's argument by interval arithmetic over the policy's column bounds.

Columns must have role ``numeric`` (their policy ``lower``/``upper``); literals are their
own interval; ``+ - *`` follow interval maths; ``-x`` and ``ABS`` as usual; ``LEAST`` and
``GREATEST`` narrow (so a query can ask for tighter bounds, never wider); ``CASE`` and
``COALESCE`` take the hull of their branches; casts to a numeric type keep the interval.
A branch that may be NULL adds nothing (NULLs are skipped by SUM/AVG/COUNT(x)).

>>> import sqlglot
>>> leaf = lambda col: (0.0, 20000.0)
>>> interval(sqlglot.parse_one("least(amount, 5000) * 2 - 1", dialect="duckdb"), leaf)
(-1.0, 9999.0)
>>> interval(sqlglot.parse_one("CASE WHEN x > 1 THEN amount ELSE 7 END", dialect="duckdb"), leaf)
(0.0, 20000.0)
"""

from __future__ import annotations

from collections.abc import Callable

import sqlglot.expressions as exp

from enclave.errors import QueryRejected

__all__ = ["Interval", "interval"]

Interval = tuple[float, float]
Leaf = Callable[[exp.Column], Interval]

_NUMERIC_CASTS = {
    "TINYINT", "SMALLINT", "INT", "INTEGER", "BIGINT", "HUGEINT", "FLOAT", "DOUBLE",
    "REAL", "DECIMAL", "NUMERIC", "UTINYINT", "USMALLINT", "UINT", "UBIGINT",
}  # fmt: skip


def _hull(parts: list[Interval]) -> Interval:
    return min(p[0] for p in parts), max(p[1] for p in parts)


def _mul(a: Interval, b: Interval) -> Interval:
    prods = [a[0] * b[0], a[0] * b[1], a[1] * b[0], a[1] * b[1]]
    return min(prods), max(prods)


def _refuse(node: exp.Expression) -> QueryRejected:
    return QueryRejected(
        f"Cannot derive bounds for {node.sql(dialect='duckdb')[:60]} inside an aggregate; use "
        "numeric columns, numbers, + - *, ABS, LEAST, GREATEST, CASE or COALESCE."
    )


def interval(node: exp.Expression, leaf: Leaf) -> Interval:
    """The interval an expression's non-NULL values lie in; ``leaf`` bounds a column."""
    if isinstance(node, exp.Paren):
        return interval(node.this, leaf)
    if isinstance(node, exp.Column):
        return leaf(node)
    if isinstance(node, exp.Literal) and not node.is_string:
        v = float(node.this)
        return v, v
    if isinstance(node, exp.Neg):
        lo, hi = interval(node.this, leaf)
        return -hi, -lo
    if isinstance(node, (exp.Add, exp.Sub, exp.Mul)):
        a, b = interval(node.this, leaf), interval(node.expression, leaf)
        if isinstance(node, exp.Add):
            return a[0] + b[0], a[1] + b[1]
        if isinstance(node, exp.Sub):
            return a[0] - b[1], a[1] - b[0]
        return _mul(a, b)
    if isinstance(node, exp.Abs):
        lo, hi = interval(node.this, leaf)
        if lo >= 0:
            return lo, hi
        if hi <= 0:
            return -hi, -lo
        return 0.0, max(-lo, hi)
    if isinstance(node, (exp.Least, exp.Greatest)):
        parts = [interval(node.this, leaf), *(interval(e, leaf) for e in node.expressions)]
        pick = min if isinstance(node, exp.Least) else max
        return pick(p[0] for p in parts), pick(p[1] for p in parts)
    if isinstance(node, exp.Case):
        branches = [interval(i.args["true"], leaf) for i in node.args.get("ifs") or []]
        default = node.args.get("default")
        if default is not None and not isinstance(default, exp.Null):
            branches.append(interval(default, leaf))
        if not branches:
            raise _refuse(node)
        return _hull(branches)
    if isinstance(node, exp.If):
        parts = [interval(node.args["true"], leaf)]
        false = node.args.get("false")
        if false is not None and not isinstance(false, exp.Null):
            parts.append(interval(false, leaf))
        return _hull(parts)
    if isinstance(node, exp.Coalesce):
        parts = [interval(node.this, leaf), *(interval(e, leaf) for e in node.expressions)]
        return _hull(parts)
    if isinstance(node, exp.Cast) and node.to.this.name.upper() in _NUMERIC_CASTS:
        return interval(node.this, leaf)
    raise _refuse(node)
