"""Aggregates: only DP-able kinds, with arguments whose bounds follow from the policy.

* ``COUNT(*)``, ``COUNT(x)`` (rows where x is not null), ``COUNT(DISTINCT <person column>)``;
* ``SUM/AVG/VARIANCE/VAR_SAMP/VAR_POP/STDDEV/STDDEV_SAMP/STDDEV_POP/MEDIAN(x)``;
* ``QUANTILE_CONT(x, q)`` and ``PERCENTILE_CONT(q) WITHIN GROUP (ORDER BY x)`` with a
  literal 0 < q < 1 — the latter is rewritten to ``QUANTILE_CONT(x, q)``;
* ``x`` is built from numeric-role columns, numbers, ``+ - *``, ``ABS``, ``LEAST``,
  ``GREATEST``, ``CASE``/``IF`` (any allowed condition; numeric or NULL branches),
  ``COALESCE(x, <number>)`` and ``CAST(x AS DOUBLE)``: interval arithmetic over the
  policy bounds then gives the value bounds. No division, no other function.

>>> import sqlglot
>>> from enclave.gateway.check.catalog import Catalog
>>> sql = "SELECT SUM(1 / c.los_days) AS s FROM claims c"
>>> bounded_aggregates(sqlglot.parse_one(sql), Catalog.example())  # doctest: +ELLIPSIS
Traceback (most recent call last):
...
enclave.errors.QueryRejected: Inside SUM use ... (division and other functions are not allowed there).
"""

from __future__ import annotations

from sqlglot import exp

from enclave.errors import QueryRejected
from enclave.gateway.check.catalog import Catalog
from enclave.gateway.check.names import sources
from enclave.gateway.check.rules.allowed_functions import AGGREGATES
from enclave.gateway.check.rules.total_functions import DATE_PARTS

__all__ = ["bounded_aggregates", "within_group_to_quantile"]

_NUMERIC_TARGETS = {"DOUBLE", "FLOAT", "REAL"}
#: date functions written by name that return a part of a date (``date_part('year', d)``)
_DATE_FUNCTIONS = {"date_part", "isoyear"}
#: every aggregate but COUNT takes a value that needs bounds
_VALUE_AGGS = tuple(AGGREGATES - {exp.Count})


def _number(node: exp.Expression) -> bool:
    while isinstance(node, (exp.Paren, exp.Neg)):
        node = node.this
    return isinstance(node, exp.Literal) and not node.is_string


class _Bounded:
    def __init__(self, tables: dict[str, str | None], cat: Catalog, name: str) -> None:
        self.tables, self.cat, self.name = tables, cat, name

    def fail(self, extra: str = "") -> QueryRejected:
        return QueryRejected(
            f"Inside {self.name} use numeric columns, numbers, + - *, ABS, LEAST, GREATEST, "
            f"CASE, COALESCE(x, number), CAST(x AS DOUBLE), date_diff and parts of dates "
            f"(year, month, …){extra}, so that bounds follow "
            "from the policy (division and other functions are not allowed there)."
        )

    def check(self, node: exp.Expression) -> None:
        if isinstance(node, exp.Column):
            table = self.tables.get(str(node.table))
            policy = self.cat.column(table or "", str(node.name))
            if policy is None or policy.role != "numeric":
                role = policy.role if policy else "unknown"
                raise self.fail(f"; {node.name} is a {role} column")
        elif isinstance(node, exp.Literal):
            if node.is_string:
                raise self.fail()
        elif isinstance(node, exp.Null):
            return
        elif isinstance(node, (exp.Paren, exp.Neg, exp.Abs)):
            self.check(node.this)
        elif isinstance(node, (exp.Add, exp.Sub, exp.Mul)):
            self.check(node.this)
            self.check(node.expression)
        elif isinstance(node, (exp.Least, exp.Greatest)):
            for arg in [node.this, *node.expressions]:
                self.check(arg)
        elif isinstance(node, exp.Case):
            for branch in node.args.get("ifs") or ():
                self.check(branch.args["true"])
            if node.args.get("default") is not None:
                self.check(node.args["default"])
        elif isinstance(node, exp.If):
            self.check(node.args["true"])
            if node.args.get("false") is not None:
                self.check(node.args["false"])
        elif isinstance(node, exp.Coalesce):
            self.check(node.this)
            if not all(_number(a) for a in node.expressions):
                raise self.fail("; COALESCE's fallback must be a number")
        elif isinstance(node, exp.Cast) and type(node) is exp.Cast:
            if node.to.this.name not in _NUMERIC_TARGETS:
                raise self.fail()
            self.check(node.this)
        elif isinstance(node, (*DATE_PARTS, exp.Extract)):
            self.dates(node)
        elif isinstance(node, exp.Anonymous) and str(node.name).lower() in _DATE_FUNCTIONS:
            for arg in node.expressions[-1:]:
                self.date(arg)
        else:
            raise self.fail()

    def dates(self, node: exp.Expression) -> None:
        """A whole number from dates: ``date_diff`` of two dates, a part of one date."""
        if isinstance(node, exp.DateDiff):
            self.date(node.this)
            self.date(node.expression)
        elif isinstance(node, exp.Extract):
            self.date(node.expression)
        else:
            self.date(node.this)

    def date(self, node: exp.Expression) -> None:
        """A date with bounds: a date column, a date literal, or date_trunc of one."""
        while isinstance(node, exp.Paren):
            node = node.this
        if isinstance(node, exp.Column):
            table = self.tables.get(str(node.table))
            policy = self.cat.column(table or "", str(node.name))
            if policy is None or policy.role != "date" or policy.lower is None:
                raise self.fail("; dates inside aggregates are date columns with a range")
        elif isinstance(node, (exp.DateTrunc, exp.TimestampTrunc)):
            self.date(node.this)
        elif not (isinstance(node, exp.Cast) and isinstance(node.this, exp.Literal)):
            raise self.fail("; dates inside aggregates are date columns with a range")


def _quantile(node: exp.Expression) -> exp.Expression:
    if isinstance(node, exp.WithinGroup):
        inner, order = node.this, node.expression
        ordered = order.expressions if isinstance(order, exp.Order) else []
        if (
            not isinstance(inner, exp.PercentileCont)
            or len(ordered) != 1
            or ordered[0].args.get("desc")
        ):
            raise QueryRejected(
                "Use PERCENTILE_CONT(q) WITHIN GROUP (ORDER BY x) with one ascending x, "
                "or QUANTILE_CONT(x, q)."
            )
        node = node.replace(exp.PercentileCont(this=ordered[0].this, expression=inner.this))
    q = node.args.get("expression") if isinstance(node, exp.PercentileCont) else None
    if isinstance(node, exp.PercentileCont):
        ok = isinstance(q, exp.Literal) and not q.is_string
        if not ok or not 0 < float(q.name) < 1:  # type: ignore[union-attr]
            raise QueryRejected("The quantile must be a number strictly between 0 and 1.")
    return node


def within_group_to_quantile(select: exp.Select, cat: Catalog) -> exp.Select:
    """Rewrite ``PERCENTILE_CONT(q) WITHIN GROUP (ORDER BY x)`` to ``QUANTILE_CONT(x, q)``.

    >>> import sqlglot
    >>> sql = "SELECT PERCENTILE_CONT(0.9) WITHIN GROUP (ORDER BY c.amount) AS p FROM claims c"
    >>> within_group_to_quantile(sqlglot.parse_one(sql, read="duckdb"), None).sql("duckdb")
    'SELECT QUANTILE_CONT(c.amount, 0.9) AS p FROM claims AS c'
    """
    del cat
    for group in list(select.find_all(exp.WithinGroup)):
        _quantile(group)
    for quantile in list(select.find_all(exp.PercentileCont)):
        _quantile(quantile)
    return select


def bounded_aggregates(select: exp.Select, cat: Catalog) -> exp.Select:
    """Check every aggregate's kind and argument; rewrite WITHIN GROUP to QUANTILE_CONT."""
    tables = {a: s.table for a, s in sources(select, {}).items()}
    for item in select.expressions:
        agg = item.this if isinstance(item, exp.Alias) else item
        if isinstance(agg, exp.Count):
            arg = agg.this
            if isinstance(arg, exp.Distinct):
                cols = arg.expressions
                table = tables.get(str(cols[0].table)) if cols else None
                tp = cat.table(table or "")
                if (
                    len(cols) != 1
                    or not isinstance(cols[0], exp.Column)
                    or tp is None
                    or cols[0].name != tp.person_column
                ):
                    raise QueryRejected(
                        "COUNT(DISTINCT …) is allowed only on the person column, e.g. "
                        "COUNT(DISTINCT c.person_id); for other distinct values group by them."
                    )
            continue
        if isinstance(agg, _VALUE_AGGS):
            name = agg.sql_name() if isinstance(agg, exp.Func) else agg.key.upper()
            if isinstance(agg.this, exp.Distinct):
                raise QueryRejected(f"{name}(DISTINCT …) is not supported.")
            _Bounded(tables, cat, name).check(agg.this)
    return select
