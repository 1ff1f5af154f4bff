"""Turn one SELECT aggregate into an ``Aggregate`` and the clamped SQL of its argument.

>>> import sqlglot
>>> from enclave.policy import load_dataset_policy
>>> from enclave.settings import REPO_POLICIES
>>> from enclave.gateway.plan.sources import Scope
>>> ds = load_dataset_policy(REPO_POLICIES / "dataset.toml")
>>> ast = sqlglot.parse_one("SELECT sum(least(amount, 500)) FROM claims", dialect="duckdb")
>>> agg, sql = parse_aggregate(ast.expressions[0], "s", "__a0", Scope.build(ast, ds))
>>> agg.kind, agg.lower, agg.upper
('sum', 0.0, 500.0)
"""

from __future__ import annotations

import math
from collections.abc import Callable

import sqlglot.expressions as exp

from enclave.errors import QueryRejected
from enclave.gateway.check.intervals import SMALLEST, Interval, interval
from enclave.gateway.plan.clamps import clamp_candidates
from enclave.gateway.plan.sources import Scope
from enclave.gateway.plan.total import guard
from enclave.gateway.values import AggKind, Aggregate
from enclave.policy import TablePolicy

__all__ = ["parse_aggregate"]

_VALUE_AGGS: dict[type[exp.Expression], AggKind] = {
    exp.Sum: "sum",
    exp.Avg: "avg",
    exp.Variance: "variance",
    exp.VariancePop: "variance",
    exp.Stddev: "stddev",
    exp.StddevPop: "stddev",
    exp.StddevSamp: "stddev",
}


def _numeric_bounds(table: TablePolicy, name: str, widen: bool = False) -> Interval:
    """A numeric column's policy bounds, or a date column's range in day ordinals (only
    date functions reach a date column here: ``rules.bounded_aggregates``). ``widen``:
    an "auto" clamp column's upper bound doubled (``_policy_bounded``)."""
    col = table.column(name)
    if col is None or col.role not in ("numeric", "date") or col.lower is None or col.upper is None:
        raise QueryRejected(
            f"Column {name} has no value bounds in the policy; only numeric columns "
            "(e.g. amount, los_days) can be summed or averaged."
        )
    return col.lower, col.upper * (2.0 if widen and col.auto_clamp else 1.0)


def _leaf(scope: Scope, widen: bool = False) -> Callable[[exp.Column], Interval]:
    def leaf(col: exp.Column) -> Interval:
        table = scope.source_of(col).table
        definition = scope.definition(col)
        if isinstance(definition, exp.Column):
            return _numeric_bounds(table, definition.name.lower(), widen)
        return interval(definition, lambda c: _numeric_bounds(table, c.name.lower(), widen))

    return leaf


def _policy_bounded(arg: exp.Expression, scope: Scope, upper: float) -> bool:
    """Whether ``arg``'s upper bound comes from an "auto" clamp column's widest bound (it
    moves when that bound does) — not from the expression itself, e.g. ``LEAST(amount,
    500)``, whose clamp the researcher fixed."""
    return interval(arg, _leaf(scope, widen=True))[1] != upper


def _clamp(sql: str, lo: float, hi: float) -> str:
    """Clamp to [lo, hi] keeping NULL as NULL (LEAST/GREATEST would turn NULL into a bound).

    >>> _clamp("x", 0.0, 1.0)
    'CASE WHEN CAST(x AS DOUBLE) < 0.0 THEN 0.0 WHEN CAST(x AS DOUBLE) > 1.0 THEN 1.0 ELSE CAST(x AS DOUBLE) END'
    """
    v = f"CAST({sql} AS DOUBLE)"
    return f"CASE WHEN {v} < {lo!r} THEN {lo!r} WHEN {v} > {hi!r} THEN {hi!r} ELSE {v} END"


def _clamped_arg(arg: exp.Expression, scope: Scope) -> tuple[str, float, float]:
    leaf = _leaf(scope)
    lo, hi = interval(arg, leaf)
    if not (math.isfinite(lo) and math.isfinite(hi)) or max(abs(lo), abs(hi)) > 1e15:
        raise QueryRejected(
            "An aggregated expression's bounds are too large to release (beyond ±1e15); "
            "narrow it with LEAST/GREATEST or smaller factors."
        )
    if 0 < max(abs(lo), abs(hi)) < SMALLEST:
        raise QueryRejected(
            "An aggregated expression's bounds are too small to release (within ±1e-100 "
            "but not 0); scale it up, or aggregate the column itself."
        )
    if lo == hi == 0:
        raise QueryRejected(
            "An aggregated expression is always 0 (its bounds are [0, 0]); there is nothing "
            "to release — aggregate the column itself."
        )
    return _clamp(guard(arg).sql(dialect="duckdb"), lo, hi), lo, hi


def _count(node: exp.Count, alias: str, scope: Scope) -> tuple[Aggregate, str | None]:
    this = node.this
    if this is None or isinstance(this, exp.Star):
        return Aggregate(alias, "count", None), None
    if isinstance(this, exp.Distinct):
        (target,) = this.expressions
        if not isinstance(target, exp.Column):
            raise QueryRejected("COUNT(DISTINCT …) is allowed on the person column only.")
        table = scope.source_of(target).table
        definition = scope.definition(target)
        if not isinstance(definition, exp.Column) or definition.name != table.person_column:
            raise QueryRejected(
                "COUNT(DISTINCT …) is allowed on the person column only "
                "(e.g. COUNT(DISTINCT person_id))."
            )
        sql = f"CASE WHEN {target.sql(dialect='duckdb')} IS NOT NULL THEN 1 ELSE 0 END"
        return Aggregate(alias, "count_distinct", sql, 0.0, 1.0), sql
    sql = f"CASE WHEN ({guard(this).sql(dialect='duckdb')}) IS NOT NULL THEN 1.0 ELSE 0.0 END"
    return Aggregate(alias, "count", sql, 0.0, 1.0), sql


def _quantile_level(node: exp.Expression) -> float:
    if isinstance(node, exp.Median):
        return 0.5
    level = node.args.get("expression")
    if isinstance(level, exp.Literal) and not level.is_string:
        q = float(level.this)
        if 0.0 < q < 1.0:
            return q
    raise QueryRejected("QUANTILE_CONT(x, q) needs a literal q strictly between 0 and 1.")


def parse_aggregate(
    node: exp.Expression, alias: str, column: str, scope: Scope
) -> tuple[Aggregate, str | None]:
    """The ``Aggregate`` for one SELECT item and the SQL computing its clamped argument.

    ``Aggregate.sql`` is ``None`` for COUNT(*), otherwise the relation column ``column``.
    """
    inner = node.this if isinstance(node, exp.Alias) else node
    if isinstance(inner, exp.Count):
        agg, sql = _count(inner, alias, scope)
        return (agg if sql is None else Aggregate(alias, agg.kind, column, 0.0, 1.0)), sql
    if isinstance(inner, (exp.Median, exp.PercentileCont)):
        q = _quantile_level(inner)
        sql, lo, hi = _clamped_arg(inner.this, scope)
        return Aggregate(alias, "quantile", column, lo, hi, quantile=q), sql
    kind = _VALUE_AGGS.get(type(inner))
    if kind is None:
        if isinstance(inner, (exp.WithinGroup, exp.Quantile)):
            raise QueryRejected(
                "Write quantiles as MEDIAN(x) or QUANTILE_CONT(x, q) with a literal q in (0, 1)."
            )
        raise QueryRejected(
            "Aggregates must stand alone: COUNT, SUM, AVG, VARIANCE, STDDEV, MEDIAN or "
            "QUANTILE_CONT of an expression "
            "(compute ratios from the released columns)."
        )
    sql, lo, hi = _clamped_arg(inner.this, scope)
    clamps = clamp_candidates(lo, hi) if _policy_bounded(inner.this, scope, hi) else ()
    return Aggregate(alias, kind, column, lo, hi, clamps=clamps if len(clamps) > 1 else ()), sql
