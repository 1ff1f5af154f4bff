"""Per-person columns of a patient-level body: typed, cast and bounded.

Each output of a body grouped by the person column is an expression of that person's
aggregates. ``person_column`` types it (``rules.total_expressions``' typer, with each
aggregate as a typed placeholder), casts numeric aggregates to DOUBLE (so nothing outside
can overflow) and gives it a column policy for the outer query: numbers get ``[lo, hi]``
by interval arithmetic — a count ``[0, auto_max_rows]``, a sum that many times its
argument's interval, an average or an extreme its argument's — flags ``[0, 1]``, dates
their column's range.

>>> import sqlglot
>>> from enclave.gateway.check.catalog import Catalog
>>> from enclave.gateway.check.rules.total_expressions import Typer
>>> cat = Catalog.example()
>>> item = sqlglot.parse_one("SELECT SUM(c.los_days) AS stay FROM claims c").expressions[0]
>>> expr, column = person_column(item, Typer({"c": "claims"}, cat), cat.table("claims"), cat)
>>> expr.sql(), (column.role, column.lower, column.upper)
('CAST(SUM(c.los_days) AS DOUBLE) AS stay', ('numeric', 0.0, 30720.0))
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from sqlglot import exp

from enclave.errors import PolicyViolation, QueryRejected
from enclave.gateway.check.catalog import Catalog, ValueType
from enclave.gateway.check.intervals import Interval, date_interval, interval
from enclave.gateway.check.rules.allowed_nodes import allowed_nodes
from enclave.gateway.check.rules.total_expressions import Typer
from enclave.gateway.check.rules.total_functions import check_arguments
from enclave.policy import ColumnPolicy, TablePolicy

__all__ = ["PERSON_AGGREGATES", "person_column", "person_condition"]

#: the per-person aggregates a patient-level body may use
PERSON_AGGREGATES = frozenset(
    {exp.Count, exp.Sum, exp.Avg, exp.Min, exp.Max, exp.LogicalOr, exp.LogicalAnd}
)
_DOUBLE = exp.DataType.build("DOUBLE")


def person_column(
    item: exp.Expression, typer: Typer, table: TablePolicy, cat: Catalog
) -> tuple[exp.Expr, ColumnPolicy]:
    """One aliased output item of a body: its SQL (aggregates cast) and column policy."""
    if not isinstance(item, exp.Alias) or not item.alias:
        raise QueryRejected("Name every patient-level column with AS (e.g. COUNT(*) AS n).")
    name = item.alias.lower()
    expr, kind, bounds = _per_person(item.this, typer, table, cat)
    if kind == "date":
        lower, upper = _calendar(bounds)
        column = ColumnPolicy(name, "date", lower, upper)
    else:
        if kind == "bool":
            expr = exp.Case(ifs=[exp.If(this=expr, true=exp.Literal.number(1))]).else_("0")
            bounds = (0.0, 1.0)
        expr = exp.cast(expr, _DOUBLE)
        # a flag or a plain count takes whole values in its bounds: a public domain, so keys
        # made from it (``CASE WHEN er.visits >= 2 …``) are public (``plan.domains``)
        whole = kind == "bool" or isinstance(_unwrap(item.this), exp.Count)
        lo, hi = float(bounds[0]), float(bounds[1])
        auto = not whole and _reads_auto_clamp(item.this, table)
        column = ColumnPolicy(name, "numeric", lo, hi, integer=whole, auto_clamp=auto)
    return exp.alias_(expr, name), column


#: the day ordinals of 0001-01-01 and 9999-12-31: a per-person date's range must lie
#: within them, so that its domain (every day of the range) can be listed
_CALENDAR = (1.0, float(dt.date.max.toordinal()))


def _calendar(days: Interval) -> Interval:
    """A per-person date's range, refused when an INTERVAL moves it out of the calendar."""
    if days[0] < _CALENDAR[0] or days[1] > _CALENDAR[1]:
        raise QueryRejected(
            "A patient-level date must stay within the years 1 to 9999; use a smaller INTERVAL."
        )
    return days


def _reads_auto_clamp(expr: exp.Expression, table: TablePolicy) -> bool:
    """A per-person value of an "auto" clamp column (a person's total cost) keeps its clamp
    chosen privately where the outer query sums or averages it (``plan.clamps``)."""
    return any(
        (policy := table.column(str(c.name).lower())) is not None and policy.auto_clamp
        for c in expr.find_all(exp.Column)
    )


def _unwrap(node: exp.Expression) -> exp.Expression:
    while isinstance(node, exp.Paren):
        node = node.this
    return node


def _per_person(
    expr: exp.Expression, typer: Typer, table: TablePolicy, cat: Catalog
) -> tuple[exp.Expr, ValueType, Interval]:
    """The item with each aggregate typed and cast, its type and its bounds."""
    holder = exp.Paren(this=expr.copy())
    aggregates = [a for a in holder.find_all(exp.AggFunc) if a.find_ancestor(exp.AggFunc) is None]
    if not aggregates and holder.find(exp.Column) is not None:  # a constant is fine
        raise QueryRejected(
            "Every patient-level column aggregates the person's rows (COUNT, SUM, AVG, MIN, "
            "MAX, BOOL_OR); group keys other than the person column are not allowed."
        )
    types: dict[str, ValueType] = {}
    bounds: dict[str, Interval] = {}
    restore: dict[str, exp.Expr] = {}
    for i, agg in enumerate(aggregates):
        placeholder = f"__g{i}"
        kind, bound = _aggregate(agg, typer, table, cat)
        types[placeholder], bounds[placeholder] = kind, bound
        restore[placeholder] = (
            agg.copy() if kind in ("date", "bool") else exp.cast(agg.copy(), _DOUBLE)
        )
        agg.replace(exp.column(placeholder))
    expr = holder.this
    allowed_nodes(expr)
    kind = Typer(typer.tables, cat, aliases=types).type(expr)
    if isinstance(expr, exp.Column) and kind == "date":
        result: Interval = bounds[expr.name]
    elif kind in ("num", "bool"):
        result = _numeric_bounds(expr, bounds, kind)
    else:
        raise QueryRejected(
            "A patient-level column must be a number, a flag or a date (MIN/MAX of a date)."
        )
    return _substitute(expr, restore), kind, result


def _substitute(expr: exp.Expression, restore: dict[str, exp.Expr]) -> exp.Expr:
    def back(node: exp.Expr) -> exp.Expr:
        if isinstance(node, exp.Column) and not node.table and node.name in restore:
            return restore[node.name].copy()
        return node

    return expr.transform(back)


def _numeric_bounds(expr: exp.Expression, bounds: dict[str, Interval], kind: str) -> Interval:
    if kind == "bool":
        return (0.0, 1.0)

    def leaf(column: exp.Column) -> Interval:
        if column.table or column.name not in bounds:
            raise QueryRejected("A patient-level column may use the person's aggregates only.")
        return bounds[column.name]

    return interval(expr, leaf)


def _aggregate(
    agg: exp.AggFunc, typer: Typer, table: TablePolicy, cat: Catalog
) -> tuple[ValueType, Interval]:
    if type(agg) not in PERSON_AGGREGATES:
        raise QueryRejected(
            f"{type(agg).__name__.upper()} is not a per-person aggregate here; use COUNT, "
            "SUM, AVG, MIN, MAX, BOOL_OR or BOOL_AND."
        )
    if any(True for _ in agg.this.find_all(exp.AggFunc)) if agg.this else False:
        raise QueryRejected("Aggregates cannot be nested.")
    check_arguments(agg)
    rows_cap = float(cat.dataset.contribution.auto_max_rows)
    if isinstance(agg, exp.Count):
        arg = agg.this
        inner = arg.this if isinstance(arg, exp.Distinct) else arg
        if isinstance(arg, exp.Distinct):
            if len(arg.expressions) != 1:
                raise QueryRejected("COUNT(DISTINCT …) takes one expression.")
            inner = arg.expressions[0]
        if inner is not None and not isinstance(inner, exp.Star):
            _identifiers_only_counted(inner, table, distinct=isinstance(arg, exp.Distinct))
            allowed_nodes(inner)
            typer.type(inner)
        return "num", (0.0, rows_cap)
    _identifiers_only_counted(agg.this, table, distinct=False)
    allowed_nodes(agg.this)
    if isinstance(agg, (exp.LogicalOr, exp.LogicalAnd)):
        typer.want(agg.this, "bool")
        return "bool", (0.0, 1.0)
    kind = typer.type(agg.this)
    if isinstance(agg, (exp.Min, exp.Max)) and kind == "date":
        return "date", _date_range(agg.this, table)
    if kind not in ("num", "null"):
        raise QueryRejected(f"{type(agg).__name__.upper()} needs a number here.")
    lo, hi = interval(agg.this, _column_bounds(table))
    if isinstance(agg, exp.Sum):
        return "num", (min(0.0, lo * rows_cap), max(0.0, hi * rows_cap))
    return "num", (lo, hi)


def _column_bounds(table: TablePolicy) -> Callable[[exp.Column], Interval]:
    def leaf(column: exp.Column) -> Interval:
        policy = table.column(str(column.name).lower())
        if policy is None or policy.role != "numeric" or policy.lower is None:
            raise QueryRejected(
                "Per-person sums and averages take numeric columns with bounds in the dataset "
                "policy (e.g. amount, los_days)."
            )
        return float(policy.lower), float(policy.upper if policy.upper is not None else 0.0)

    return leaf


def _date_range(arg: exp.Expression, table: TablePolicy) -> Interval:
    """The days a date expression lies in: its date columns' ranges, moved by literal
    intervals (``CASE WHEN icd10 LIKE 'E11%' THEN visit_date END``: visit_date's)."""

    def leaf(column: exp.Column) -> Interval:
        policy = table.column(str(column.name).lower())
        if policy is None or policy.role != "date" or policy.lower is None:
            raise QueryRejected(_DATE_ARGUMENT)
        return float(policy.lower), float(policy.upper if policy.upper is not None else 0.0)

    try:
        return date_interval(arg, leaf)
    except QueryRejected:
        raise QueryRejected(_DATE_ARGUMENT) from None


_DATE_ARGUMENT = (
    "MIN/MAX of a date takes a date column, or CASE / COALESCE of date columns "
    "(MIN(CASE WHEN icd10 LIKE 'E11%' THEN visit_date END) is the first E11 date)."
)


def _identifiers_only_counted(
    node: exp.Expression | None, table: TablePolicy, *, distinct: bool
) -> None:
    for column in node.find_all(exp.Column) if node is not None else ():
        policy = table.column(str(column.name).lower())
        if policy is not None and policy.role in ("identifier", "join"):
            if distinct and isinstance(node, exp.Column):
                continue
            raise PolicyViolation(
                f"{policy.name} is an identifier; a patient-level body may only count its "
                "distinct values (COUNT(DISTINCT …))."
            )


def person_condition(
    condition: exp.Expression, body: exp.Select, typer: Typer, table: TablePolicy, cat: Catalog
) -> exp.Expr:
    """A body's HAVING condition, typed, with output aliases replaced by their expressions."""
    outputs = {e.alias.lower(): e.this for e in body.expressions if isinstance(e, exp.Alias)}

    def resolve(node: exp.Expr) -> exp.Expr:
        if isinstance(node, exp.Column) and not node.table and node.name.lower() in outputs:
            return outputs[node.name.lower()].copy()
        return node

    resolved = condition.transform(resolve)
    typed, kind, _ = _per_person(exp.Paren(this=resolved), typer, table, cat)
    if kind != "bool":
        raise QueryRejected("HAVING needs a condition (true or false for each person).")
    return typed
