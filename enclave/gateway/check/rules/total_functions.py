"""Typing rules for the functions of ``total_expressions``: casts, text and dates.

Each method types one function node and refuses arguments that could make it fail on
some row (non-literal parts and formats, text-to-number casts, invalid date literals).
Date arithmetic is limited to what DuckDB and Spark compute alike and cannot fail:
``date_diff('day' | 'week', a, b)`` (a whole number: complete days or weeks from ``a`` to
``b``), and a date plus or minus a literal ``INTERVAL n DAY | WEEK | MONTH | YEAR`` (also
``date_add(d, INTERVAL …)``; ``n`` a whole number up to 10,000). ``date_diff`` by month,
quarter or year (DuckDB counts boundaries, Spark whole units), ``date - date`` (a number in
DuckDB, an interval in Spark) and ``date + number`` are refused with what to write instead.

>>> import sqlglot
>>> iso_date(sqlglot.parse_one("'2023-02-29'")), iso_date(sqlglot.parse_one("'2024-02-29'"))
(False, True)
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Protocol

from sqlglot import exp

from enclave.errors import QueryRejected
from enclave.gateway.check.catalog import ValueType

__all__ = [
    "ARGUMENTS",
    "DATE_PARTS",
    "DIFF_UNITS",
    "NAMES",
    "SHIFT_UNITS",
    "FunctionTypes",
    "Typing",
    "check_arguments",
    "interval",
    "iso_date",
]

_TRUNC_PARTS = {"YEAR", "QUARTER", "MONTH", "WEEK", "DAY", "ISOYEAR"}
_EXTRACT_PARTS = _TRUNC_PARTS | {"DOW", "DAYOFWEEK", "ISODOW", "DOY", "DAYOFYEAR", "YEARWEEK"}
_STRFTIME = re.compile(r"(?:[^%]|%[YymdjUWVGuwbBaA%])*")
NAMES = {"num": "a number", "str": "text", "date": "a date", "bool": "a condition", "null": "NULL"}
#: the one-argument parts of a date (each a whole number)
_UNARY_PARTS: tuple[type[exp.Expression], ...] = (
    exp.Year,
    exp.Quarter,
    exp.Month,
    exp.Week,
    exp.WeekOfYear,
    exp.Day,
    exp.DayOfWeek,
    exp.DayOfWeekIso,
    exp.DayOfYear,
)
#: date functions whose value is a whole number: the parts of a date, and ``date_diff``
#: (``rules.promote_numbers`` computes with them in DOUBLE)
DATE_PARTS: tuple[type[exp.Expression], ...] = (*_UNARY_PARTS, exp.DateDiff)
#: units of ``date_diff`` (DuckDB and Spark agree on complete days and weeks only)
DIFF_UNITS = frozenset({"DAY", "WEEK"})
#: units of a literal ``INTERVAL`` added to a date (both engines: the same calendar dates)
SHIFT_UNITS = frozenset({"DAY", "WEEK", "MONTH", "YEAR"})


_UNARY = frozenset({"this"})
_BINARY = frozenset({"this", "expression"})
#: The arguments each typed node may carry: exactly the ones its typing rule inspects.
#: A node with any other argument set (``FLOOR(x, d)``, ``week(d, mode)``, ``COUNT(a, b)``,
#: ``CAST(x AS … FORMAT …)``) is refused, so sqlglot or DuckDB can never evaluate an
#: argument the typer has not checked.
ARGUMENTS: dict[type[exp.Expr], frozenset[str]] = {
    exp.Column: frozenset({"this", "table"}),
    exp.Literal: frozenset({"this", "is_string"}),
    exp.Null: frozenset(),
    exp.Boolean: _UNARY,
    exp.Paren: _UNARY,
    exp.Not: _UNARY,
    exp.Neg: _UNARY,
    exp.Abs: _UNARY,
    exp.Floor: _UNARY,
    exp.Ceil: _UNARY,
    exp.Upper: _UNARY,
    exp.Lower: _UNARY,
    exp.Length: _UNARY,
    exp.Round: frozenset({"this", "decimals"}),
    exp.In: frozenset({"this", "expressions"}),
    exp.Between: frozenset({"this", "low", "high"}),
    exp.Least: frozenset({"this", "expressions", "ignore_nulls"}),
    exp.Greatest: frozenset({"this", "expressions", "ignore_nulls"}),
    exp.Coalesce: frozenset({"this", "expressions"}),
    exp.Case: frozenset({"this", "ifs", "default"}),
    exp.If: frozenset({"this", "true", "false"}),
    exp.Cast: frozenset({"this", "to"}),
    exp.Substring: frozenset({"this", "start", "length"}),
    exp.Trim: _BINARY,
    exp.Left: _BINARY,
    exp.Extract: _BINARY,
    exp.DateTrunc: frozenset({"this", "unit"}),
    exp.TimestampTrunc: frozenset({"this", "unit"}),
    exp.TimeToStr: frozenset({"this", "format"}),
    exp.Anonymous: frozenset({"this", "expressions"}),
    exp.Count: frozenset({"this", "big_int"}),
    exp.PercentileCont: _BINARY,
    **{part: _UNARY for part in _UNARY_PARTS},
    exp.DateDiff: frozenset({"this", "expression", "unit", "date_part_boundary"}),
    exp.DateAdd: _BINARY,
    exp.Interval: frozenset({"this", "unit"}),
}


def check_arguments(node: exp.Expr) -> None:
    """Refuse a node that carries an argument its typing rule does not inspect.

    >>> import sqlglot
    >>> check_arguments(sqlglot.parse_one("FLOOR(x, 2)", dialect="duckdb"))
    Traceback (most recent call last):
    ...
    enclave.errors.QueryRejected: FLOOR takes only the arguments listed in docs/sql-reference.md (it was given: decimals); remove the extra argument.
    """
    allowed = ARGUMENTS.get(type(node))
    if allowed is None:
        allowed = _BINARY if isinstance(node, exp.Binary) else _UNARY
    extra = sorted(
        k for k, v in node.args.items() if v not in (None, False, []) and k not in allowed
    )
    if extra:
        name = node.sql_name() if isinstance(node, exp.Func) else type(node).__name__.upper()
        raise QueryRejected(
            f"{name[:32]} takes only the arguments listed in docs/sql-reference.md (it was "
            f"given: {', '.join(extra)}); remove the extra argument."
        )


def iso_date(node: exp.Expression) -> bool:
    if not (isinstance(node, exp.Literal) and node.is_string and len(node.name) == 10):
        return False
    try:
        dt.date.fromisoformat(node.name)
    except ValueError:
        return False
    return True


def _int_literal(node: exp.Expression | None, limit: int = 10_000) -> bool:
    while isinstance(node, (exp.Paren, exp.Neg)):
        node = node.this
    return (
        isinstance(node, exp.Literal)
        and not node.is_string
        and node.name.isdigit()
        and int(node.name) <= limit
    )


def _part(node: exp.Expression | None) -> str:
    if isinstance(node, (exp.Var, exp.Literal)):
        return str(node.name).upper()
    return ""


def interval(node: exp.Expression) -> None:
    """Refuse an INTERVAL that is not ``INTERVAL n DAY | WEEK | MONTH | YEAR`` (``n`` a whole
    number up to 10,000, written as a literal).

    >>> import sqlglot
    >>> interval(sqlglot.parse_one("INTERVAL 2 HOUR", dialect="duckdb"))  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    enclave.errors.QueryRejected: Write intervals as INTERVAL n DAY, WEEK, MONTH or YEAR ...
    """
    check_arguments(node)
    n = node.this
    whole = isinstance(n, exp.Literal) and n.is_string and n.name.isdigit()
    if not whole or int(n.name) > 10_000 or _part(node.args.get("unit")) not in SHIFT_UNITS:
        raise QueryRejected(
            "Write intervals as INTERVAL n DAY, WEEK, MONTH or YEAR with a whole number n up "
            "to 10000, e.g. c.visit_date + INTERVAL 30 DAY."
        )


class Typing(Protocol):
    """What the function types need from the typer: the type of an argument."""

    def type(self, node: exp.Expression | None) -> ValueType: ...

    def want(
        self, node: exp.Expression, wanted: ValueType, result: ValueType | None = None
    ) -> ValueType: ...


class FunctionTypes:
    """One method per allowed function with arguments to check (see ``Typer.rules``).

    Args:
        typer: types the function's arguments (``Typer`` in ``total_expressions``).
    """

    def __init__(self, typer: Typing) -> None:
        self.typer = typer

    def round_(self, node: exp.Expression) -> ValueType:
        digits = node.args.get("decimals")
        if digits is not None and not _int_literal(digits, 10):
            raise QueryRejected("ROUND's digits must be a literal integer between -10 and 10.")
        return self.typer.want(node.this, "num")

    def cast(self, node: exp.Expression) -> ValueType:
        to = node.args.get("to")
        target = to.this.name if isinstance(to, exp.DataType) else "?"
        if type(node) is not exp.Cast:
            raise QueryRejected("TRY_CAST is not allowed; use CAST to DOUBLE or VARCHAR.")
        if target in ("FLOAT", "REAL"):
            raise QueryRejected(
                f"CAST to {target} is not allowed (a 4-byte float fails on large values); "
                "cast numbers with CAST(x AS DOUBLE)."
            )
        if target == "DOUBLE":
            return self.typer.want(node.this, "num")
        if target in ("VARCHAR", "TEXT", "CHAR"):
            self.typer.type(node.this)
            return "str"
        if target in ("DATE", "TIMESTAMP"):
            if isinstance(node.this, exp.Literal):
                if not iso_date(node.this):
                    raise QueryRejected("Date literals must be valid dates written 'YYYY-MM-DD'.")
                return "date"
            return self.typer.want(node.this, "date")
        raise QueryRejected(
            f"CAST to {target} is not allowed (it could fail on some rows); cast numbers with "
            "CAST(x AS DOUBLE)."
        )

    def trim(self, node: exp.Expression) -> ValueType:
        chars = node.expression
        if chars is not None and not (isinstance(chars, exp.Literal) and chars.is_string):
            raise QueryRejected("TRIM's characters must be a text literal.")
        return self.typer.want(node.this, "str")

    def substring(self, node: exp.Expression) -> ValueType:
        for key in ("start", "length"):
            arg = node.args.get(key)
            if arg is not None and not _int_literal(arg):
                raise QueryRejected(
                    "substr needs literal integer positions, e.g. substr(icd10, 1, 3)."
                )
        return self.typer.want(node.this, "str")

    def left(self, node: exp.Expression) -> ValueType:
        if not _int_literal(node.expression):
            raise QueryRejected("left needs a literal integer length, e.g. left(icd10, 3).")
        return self.typer.want(node.this, "str")

    def trunc(self, node: exp.Expression) -> ValueType:
        if _part(node.args.get("unit")) not in _TRUNC_PARTS:
            raise QueryRejected(
                "date_trunc needs a literal part: 'year', 'quarter', 'month', 'week' or 'day'."
            )
        return self.typer.want(node.this, "date")

    def extract(self, node: exp.Expression) -> ValueType:
        if _part(node.this) not in _EXTRACT_PARTS:
            raise QueryRejected(
                "extract needs a literal part: year, quarter, month, week, day, dow, doy, isoyear."
            )
        return self.typer.want(node.expression, "date", "num")

    def strftime(self, node: exp.Expression) -> ValueType:
        fmt = node.args.get("format")
        if not (isinstance(fmt, exp.Literal) and fmt.is_string and _STRFTIME.fullmatch(fmt.name)):
            raise QueryRejected(
                "strftime needs a literal format using %Y %y %m %d %j %U %W %V %G %u %w %b %B %a %A."
            )
        return self.typer.want(node.this, "date", "str")

    def date_diff(self, node: exp.Expression) -> ValueType:
        if _part(node.args.get("unit")) not in DIFF_UNITS:
            raise QueryRejected(
                "date_diff counts 'day' or 'week' only, e.g. date_diff('day', a, b); for months "
                "compare year(b) * 12 + month(b) with year(a) * 12 + month(a)."
            )
        self.typer.want(node.expression, "date")
        return self.typer.want(node.this, "date", "num")

    def date_add(self, node: exp.Expression) -> ValueType:
        if not isinstance(node.expression, exp.Interval):
            raise QueryRejected(
                "date_add takes a date and an interval, e.g. date_add(d, INTERVAL 30 DAY)."
            )
        interval(node.expression)
        return self.typer.want(node.this, "date")

    def shift(self, node: exp.Expression) -> ValueType:
        """``date ± INTERVAL n unit`` or ``INTERVAL n unit + date``: a date."""
        moved, by = node.this, node.expression
        if isinstance(moved, exp.Interval) and isinstance(node, exp.Add):
            moved, by = by, moved
        if isinstance(moved, exp.Interval) or not isinstance(by, exp.Interval):
            raise QueryRejected(
                "An INTERVAL is added to or subtracted from a date, e.g. "
                "c.visit_date - INTERVAL 30 DAY."
            )
        interval(by)
        return self.typer.want(moved, "date")

    def anonymous(self, node: exp.Expression) -> ValueType:
        name = str(node.name).lower()
        args = node.expressions
        if name == "date_part" and len(args) == 2 and _part(args[0]) in _EXTRACT_PARTS:
            return self.typer.want(args[1], "date", "num")
        if name == "isoyear" and len(args) == 1:
            return self.typer.want(args[0], "date", "num")
        raise QueryRejected(f"{name.upper()[:64]} is not allowed here; see docs/sql-reference.md.")
