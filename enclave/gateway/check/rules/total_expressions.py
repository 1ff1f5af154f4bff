"""Totality: every scalar expression is well typed, so it can never raise on some row.

An error that happens only for some rows (a text→number cast, a division by a column, an
overflow, a bad date) would tell the researcher something about those rows. Each node is
given a coarse type (number, text, date, boolean, NULL) and refused if its inputs could
make it fail: comparisons compare like with like, casts go only to DOUBLE or VARCHAR (or
to DATE from a valid date literal), division is only by a non-zero number literal,
``date_trunc``/``extract`` take a literal part of a date, ``strftime`` a literal format;
dates take ``date_diff('day' | 'week', a, b)`` and ``± INTERVAL n DAY | WEEK | MONTH | YEAR``
(``rules.total_functions``), no other arithmetic.

>>> import sqlglot
>>> from enclave.gateway.check.catalog import Catalog
>>> sql = "SELECT COUNT(*) AS n FROM claims c WHERE CAST(c.icd10 AS INT) > 5"
>>> total_expressions(sqlglot.parse_one(sql), Catalog.example())  # doctest: +ELLIPSIS
Traceback (most recent call last):
...
enclave.errors.QueryRejected: CAST to INT is not allowed ... cast numbers with CAST(x AS DOUBLE).
"""

from __future__ import annotations

from collections.abc import Callable

from sqlglot import exp

from enclave.errors import QueryRejected
from enclave.gateway.check.catalog import Catalog, ValueType
from enclave.gateway.check.kinds import COMPARISONS
from enclave.gateway.check.names import sources
from enclave.gateway.check.rules.total_functions import (
    DATE_PARTS,
    NAMES,
    FunctionTypes,
    check_arguments,
    iso_date,
)

__all__ = ["Typer", "total_expressions"]


class Typer:
    """Types expressions of one SELECT; raises QueryRejected on anything not total."""

    def __init__(
        self,
        tables: dict[str, str | None],
        cat: Catalog,
        aliases: dict[str, ValueType] | None = None,
    ) -> None:
        self.tables, self.cat, self.aliases = tables, cat, aliases or {}
        self.fn = fn = FunctionTypes(self)
        self.rules: dict[type[exp.Expression], Callable[[exp.Expression], ValueType]] = {
            exp.Column: self.column,
            exp.Literal: lambda n: "str" if n.is_string else "num",
            exp.Null: lambda n: "null",
            exp.Boolean: lambda n: "bool",
            exp.Paren: lambda n: self.type(n.this),
            exp.And: self.logic,
            exp.Or: self.logic,
            exp.Not: lambda n: self.want(n.this, "bool"),
            exp.Is: self.is_,
            exp.In: self.in_,
            exp.Between: self.between,
            exp.Like: self.like,
            exp.ILike: self.like,
            exp.Escape: self.escape,
            exp.Add: self.arith,
            exp.Sub: self.arith,
            exp.Mul: self.arith,
            exp.Div: self.div,
            exp.Neg: lambda n: self.want(n.this, "num"),
            exp.Abs: lambda n: self.want(n.this, "num"),
            exp.Floor: lambda n: self.want(n.this, "num"),
            exp.Ceil: lambda n: self.want(n.this, "num"),
            exp.Round: fn.round_,
            exp.Least: self.same,
            exp.Greatest: self.same,
            exp.Coalesce: self.same,
            exp.Case: self.case,
            exp.If: self.if_,
            exp.Cast: fn.cast,
            exp.Upper: lambda n: self.want(n.this, "str"),
            exp.Lower: lambda n: self.want(n.this, "str"),
            exp.Trim: fn.trim,
            exp.Length: lambda n: self.want(n.this, "str", "num"),
            exp.Substring: fn.substring,
            exp.Left: fn.left,
            exp.DateTrunc: fn.trunc,
            exp.TimestampTrunc: fn.trunc,
            exp.Extract: fn.extract,
            exp.TimeToStr: fn.strftime,
            exp.Anonymous: fn.anonymous,
            exp.DateAdd: fn.date_add,
            exp.Interval: self.interval,
        }
        for kind in COMPARISONS:
            self.rules[kind] = self.compare
        for part in DATE_PARTS:
            self.rules[part] = lambda n: self.want(n.this, "date", "num")
        self.rules[exp.DateDiff] = fn.date_diff

    def type(self, node: exp.Expression | None) -> ValueType:
        if node is None:
            return "null"
        rule = self.rules.get(type(node))
        if rule is None:
            raise QueryRejected(
                f"{type(node).__name__} is not allowed in this position; see "
                "docs/sql-reference.md for the expressions filters and keys may use."
            )
        check_arguments(node)
        return rule(node)

    def want(
        self, node: exp.Expression, wanted: ValueType, result: ValueType | None = None
    ) -> ValueType:
        return self.expect(self.type(node), wanted, result)

    @staticmethod
    def expect(got: ValueType, wanted: ValueType, result: ValueType | None = None) -> ValueType:
        if got not in (wanted, "null"):
            raise QueryRejected(
                f"Expected {NAMES[wanted]} but got {NAMES[got]}; an implicit conversion "
                "could fail on some rows. Compare like with like (dates with DATE 'YYYY-MM-DD'"
                + (
                    "; a patient-level flag is 1 or 0: f.flag = 1)."
                    if got == "num" and wanted == "bool"
                    else ")."
                )
            )
        return result or wanted

    def column(self, node: exp.Expression) -> ValueType:
        qualifier = str(node.text("table"))
        if not qualifier and str(node.name).lower() in self.aliases:
            return self.aliases[str(node.name).lower()]
        table = self.tables.get(qualifier)
        if table is None:
            raise QueryRejected("Every column must belong to a table in FROM/JOIN.")
        return self.cat.column_type(table, str(node.name))

    def compatible(self, a: exp.Expression, b: exp.Expression) -> ValueType:
        ta, tb = self.type(a), self.type(b)
        if ta == tb or "null" in (ta, tb):
            return ta if ta != "null" else tb
        for lit, other in ((a, tb), (b, ta)):
            if other == "date" and isinstance(lit, exp.Literal) and lit.is_string:
                if iso_date(lit):
                    return "date"
                raise QueryRejected("Date literals must be valid dates written 'YYYY-MM-DD'.")
        raise QueryRejected(
            f"Comparing {NAMES[ta]} with {NAMES[tb]} needs a conversion that could fail on "
            "some rows; compare like with like (text with 'text', numbers with numbers, "
            "dates with DATE 'YYYY-MM-DD')."
        )

    def compare(self, node: exp.Expression) -> ValueType:
        self.compatible(node.this, node.expression)
        return "bool"

    def logic(self, node: exp.Expression) -> ValueType:
        self.want(node.this, "bool")
        return self.want(node.expression, "bool")

    def is_(self, node: exp.Expression) -> ValueType:
        self.type(node.this)
        if not isinstance(node.expression, (exp.Null, exp.Boolean)):
            raise QueryRejected("IS may only test for NULL, TRUE or FALSE.")
        return "bool"

    def in_(self, node: exp.Expression) -> ValueType:
        if node.args.get("query") or node.args.get("unnest") or node.args.get("field"):
            raise QueryRejected("IN takes a list of literal values, not a subquery.")
        subject = self.type(node.this)
        kinds: set[str] = set()
        for item in node.expressions:
            if not isinstance(item, (exp.Literal, exp.Null, exp.Neg, exp.Cast, exp.Boolean)):
                raise QueryRejected("IN takes a list of literal values.")
            plain = isinstance(item, (exp.Literal, exp.Null, exp.Boolean))
            kind = f"{type(item).__name__}:{isinstance(item, exp.Literal) and item.is_string}"
            if subject == "date" or not plain or kind not in kinds:
                self.compatible(node.this, item)
                kinds.add(kind)
        return "bool"

    def between(self, node: exp.Expression) -> ValueType:
        self.compatible(node.this, node.args["low"])
        self.compatible(node.this, node.args["high"])
        return "bool"

    def like(self, node: exp.Expression) -> ValueType:
        self.want(node.this, "str")
        pattern = node.expression
        if not (isinstance(pattern, exp.Literal) and pattern.is_string):
            raise QueryRejected("LIKE needs a literal text pattern, e.g. icd10 LIKE 'E11%'.")
        return "bool"

    def escape(self, node: exp.Expression) -> ValueType:
        char = node.expression
        if not (isinstance(char, exp.Literal) and char.is_string and len(char.name) == 1):
            raise QueryRejected("ESCAPE needs a single literal character.")
        if not isinstance(node.this, (exp.Like, exp.ILike)):
            raise QueryRejected("ESCAPE may only follow LIKE or ILIKE.")
        return self.type(node.this)

    def arith(self, node: exp.Expression) -> ValueType:
        parts = (node.this, node.expression)
        if isinstance(node, (exp.Add, exp.Sub)) and any(isinstance(p, exp.Interval) for p in parts):
            return self.fn.shift(node)
        left, right = self.type(node.this), self.type(node.expression)
        if "date" in (left, right):
            raise QueryRejected(
                "Dates take no arithmetic but an INTERVAL: date_diff('day', a, b) is the days "
                "from a to b, c.visit_date + INTERVAL 30 DAY a later date."
            )
        self.expect(left, "num")
        return self.expect(right, "num")

    def interval(self, node: exp.Expression) -> ValueType:
        raise QueryRejected(
            "An INTERVAL is added to or subtracted from a date, e.g. c.visit_date + "
            "INTERVAL 30 DAY, or given to date_add."
        )

    def div(self, node: exp.Expression) -> ValueType:
        self.want(node.this, "num")
        divisor = node.expression
        while isinstance(divisor, (exp.Paren, exp.Neg)):
            divisor = divisor.this
        if not (
            isinstance(divisor, exp.Literal) and not divisor.is_string and float(divisor.name) != 0
        ):
            raise QueryRejected(
                "Division is allowed only by a non-zero number literal (e.g. amount / 1000); "
                "dividing by a column could fail on some rows."
            )
        return "num"

    def same(self, node: exp.Expression) -> ValueType:
        return self._branches([node.this, *node.expressions])

    def case(self, node: exp.Expression) -> ValueType:
        subject = node.this
        results: list[exp.Expression] = []
        for branch in node.args.get("ifs") or ():
            if subject is not None:
                self.compatible(subject, branch.this)
            else:
                self.want(branch.this, "bool")
            results.append(branch.args["true"])
        if node.args.get("default") is not None:
            results.append(node.args["default"])
        return self._branches(results)

    def _branches(self, results: list[exp.Expression]) -> ValueType:
        result: ValueType = "null"
        for r in results:
            here = self.compatible(results[0], r)
            result = here if here != "null" else result
        return result

    def if_(self, node: exp.Expression) -> ValueType:
        self.want(node.this, "bool")
        results = [node.args["true"]]
        if node.args.get("false") is not None:
            results.append(node.args["false"])
        return self._branches(results)


def total_expressions(select: exp.Select, cat: Catalog) -> exp.Select:
    """Type-check WHERE, JOIN … ON, group keys and aggregate arguments."""
    typer = Typer({a: s.table for a, s in sources(select, {}).items()}, cat)
    where = select.args.get("where")
    if where is not None:
        typer.want(where.this, "bool")
    for join in select.args.get("joins") or ():
        typer.want(join.args["on"], "bool")
    for item in select.expressions:
        expr = item.this if isinstance(item, exp.Alias) else item
        if isinstance(expr, exp.AggFunc):
            check_arguments(expr)
        if isinstance(expr, exp.Count):
            if not isinstance(expr.this, (exp.Star, exp.Distinct)):
                typer.type(expr.this)
        elif isinstance(expr, exp.AggFunc):
            typer.want(expr.this, "num")
        else:
            typer.type(expr)
    for key in select.args["group"].expressions if select.args.get("group") else ():
        typer.type(key)
    return select
