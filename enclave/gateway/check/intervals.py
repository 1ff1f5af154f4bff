"""Bounds of an aggregate's argument by interval arithmetic over the policy's column bounds.

Columns must have role ``numeric`` (their policy ``lower``/``upper``); literals are their
own interval; ``+ - *`` and division by a non-zero number follow interval maths; ``-x`` and ``ABS`` as usual; ``LEAST`` and
``GREATEST`` narrow (so a query can ask for tighter bounds, never wider); ``CASE`` and
``COALESCE`` take the hull of their branches; casts to a numeric type keep the interval.
A branch that may be NULL adds nothing (NULLs are skipped by SUM/AVG/COUNT(x)).

Dates count in days: a date column's ``leaf`` interval is its policy range as day
ordinals (``date.toordinal``), so ``date_diff('day', a, b)`` lies in ``[b_lo - a_hi,
b_hi - a_lo]`` (``'week'``: those divided by 7, truncated), ``year(d)`` between the years of
its range and the other parts of a date in their calendar ranges (``month`` 1–12, …).
A date argument may be a column, a ``DATE 'YYYY-MM-DD'`` literal, ``date_trunc`` of a date,
a date ± a literal ``INTERVAL`` (months counted as 28 to 31 days), or CASE / COALESCE /
LEAST / GREATEST of those.

>>> import sqlglot
>>> leaf = lambda col: (0.0, 20000.0)
>>> interval(sqlglot.parse_one("least(amount, 5000) * 2 - 1", dialect="duckdb"), leaf)
(-1.0, 9999.0)
>>> interval(sqlglot.parse_one("amount / -1000", dialect="duckdb"), leaf)
(-20.0, -0.0)
>>> interval(sqlglot.parse_one("CASE WHEN x > 1 THEN amount ELSE 7 END", dialect="duckdb"), leaf)
(0.0, 20000.0)
>>> days = lambda col: (738521.0, 739251.0)  # 2023-01-01 .. 2024-12-31
>>> interval(sqlglot.parse_one("date_diff('day', DATE '2023-01-01', d)", dialect="duckdb"), days)
(0.0, 730.0)
>>> interval(sqlglot.parse_one("year(d) - 1990", dialect="duckdb"), days)
(33.0, 34.0)
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import sqlglot.expressions as exp

from enclave.errors import QueryRejected

__all__ = ["SMALLEST", "Interval", "date_interval", "interval"]

Interval = tuple[float, float]
#: the smallest magnitude a non-zero interval may have (its square still a normal DOUBLE)
SMALLEST = 1e-100
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
    """The interval an expression's non-NULL values lie in; ``leaf`` bounds a column.

    A non-zero interval whose largest magnitude is below ``SMALLEST`` is refused: the
    rounding grid of its sums (and of its squares, for VARIANCE and STDDEV) would
    underflow to zero and no noise could be scaled to it.
    """
    lo, hi = _interval(node, leaf)
    if 0.0 < max(abs(lo), abs(hi)) < SMALLEST:
        raise QueryRejected(
            f"An aggregated expression's bounds are too small to release (below {SMALLEST:g} "
            "in size, but not 0); use larger factors."
        )
    return lo, hi


def _interval(node: exp.Expression, leaf: Leaf) -> Interval:
    if isinstance(node, exp.Paren):
        return _interval(node.this, leaf)
    if isinstance(node, exp.Column):
        return leaf(node)
    if isinstance(node, exp.Literal) and not node.is_string:
        v = float(node.this)
        return v, v
    if isinstance(node, exp.Neg):
        lo, hi = _interval(node.this, leaf)
        return -hi, -lo
    if isinstance(node, (exp.Add, exp.Sub, exp.Mul)):
        a, b = _interval(node.this, leaf), _interval(node.expression, leaf)
        if isinstance(node, exp.Add):
            return a[0] + b[0], a[1] + b[1]
        if isinstance(node, exp.Sub):
            return a[0] - b[1], a[1] - b[0]
        return _mul(a, b)
    if isinstance(node, exp.Div) and node.expression.find(exp.Column) is None:
        k, k_hi = _interval(node.expression, leaf)  # a number: what ``/`` may divide by
        if k != k_hi or k == 0:
            raise _refuse(node)
        lo, hi = _interval(node.this, leaf)
        return (lo / k, hi / k) if k > 0 else (hi / k, lo / k)
    if isinstance(node, exp.Abs):
        lo, hi = _interval(node.this, leaf)
        if lo >= 0:
            return lo, hi
        if hi <= 0:
            return -hi, -lo
        return 0.0, max(-lo, hi)
    if isinstance(node, (exp.Least, exp.Greatest)):
        parts = [_interval(node.this, leaf), *(_interval(e, leaf) for e in node.expressions)]
        pick = min if isinstance(node, exp.Least) else max
        return pick(p[0] for p in parts), pick(p[1] for p in parts)
    if isinstance(node, exp.Case):
        branches = [_interval(i.args["true"], leaf) for i in node.args.get("ifs") or []]
        default = node.args.get("default")
        if default is not None and not isinstance(default, exp.Null):
            branches.append(_interval(default, leaf))
        if not branches:
            raise _refuse(node)
        return _hull(branches)
    if isinstance(node, exp.If):
        parts = [_interval(node.args["true"], leaf)]
        false = node.args.get("false")
        if false is not None and not isinstance(false, exp.Null):
            parts.append(_interval(false, leaf))
        return _hull(parts)
    if isinstance(node, exp.Coalesce):
        parts = [_interval(node.this, leaf), *(_interval(e, leaf) for e in node.expressions)]
        return _hull(parts)
    if isinstance(node, exp.Cast) and node.to.this.name.upper() in _NUMERIC_CASTS:
        return _interval(node.this, leaf)
    if isinstance(node, (exp.DateDiff, exp.Extract, exp.Anonymous, *_PART_RANGES)):
        return _date_number(node, leaf)
    raise _refuse(node)


#: the calendar range of each part of a date but the year (``extract`` names and nodes)
_RANGES: dict[str, Interval] = {
    "QUARTER": (1.0, 4.0),
    "MONTH": (1.0, 12.0),
    "WEEK": (1.0, 53.0),
    "DAY": (1.0, 31.0),
    "DOW": (0.0, 6.0),
    "DAYOFWEEK": (0.0, 6.0),
    "ISODOW": (1.0, 7.0),
    "DOY": (1.0, 366.0),
    "DAYOFYEAR": (1.0, 366.0),
}
_PART_RANGES: dict[type[exp.Expression], str] = {
    exp.Year: "YEAR",
    exp.Quarter: "QUARTER",
    exp.Month: "MONTH",
    exp.Week: "WEEK",
    exp.WeekOfYear: "WEEK",
    exp.Day: "DAY",
    exp.DayOfWeek: "DOW",
    exp.DayOfWeekIso: "ISODOW",
    exp.DayOfYear: "DOY",
}
_FIRST, _LAST = 1.0, float(dt.date.max.toordinal())
#: days an INTERVAL unit may span (at least, at most)
_UNIT_DAYS = {"DAY": (1, 1), "WEEK": (7, 7), "MONTH": (28, 31), "YEAR": (365, 366)}


def _year(ordinal: float) -> float:
    return float(dt.date.fromordinal(int(min(max(ordinal, _FIRST), _LAST))).year)


def _part_of(part: str, days: Interval) -> Interval:
    if part in ("YEAR", "ISOYEAR"):
        lo, hi = _year(days[0]), _year(days[1])
        return (lo - 1, hi + 1) if part == "ISOYEAR" else (lo, hi)
    if part == "YEARWEEK":
        return _year(days[0]) * 100 - 99, _year(days[1]) * 100 + 53
    if part in _RANGES:
        return _RANGES[part]
    raise QueryRejected(f"Cannot derive bounds for the date part {part[:16]}.")


def _date_number(node: exp.Expression, leaf: Leaf) -> Interval:
    """A whole number computed from dates: ``date_diff`` or a part of a date."""
    if isinstance(node, exp.DateDiff):
        a, b = _days(node.expression, leaf), _days(node.this, leaf)
        lo, hi = b[0] - a[1], b[1] - a[0]
        unit = str(node.text("unit")).upper()
        if unit == "WEEK":
            return float(int(lo / 7)), float(int(hi / 7))
        if unit != "DAY":
            raise _refuse(node)
        return lo, hi
    if isinstance(node, exp.Extract):
        return _part_of(str(node.this.name).upper(), _days(node.expression, leaf))
    if isinstance(node, exp.Anonymous):
        args = node.expressions
        name = str(node.name).lower()
        if name == "date_part" and len(args) == 2:
            return _part_of(str(args[0].name).upper(), _days(args[1], leaf))
        if name == "isoyear" and len(args) == 1:
            return _part_of("ISOYEAR", _days(args[0], leaf))
        raise _refuse(node)
    return _part_of(_PART_RANGES[type(node)], _days(node.this, leaf))


def _trunc(part: str, days: Interval) -> Interval:
    """``date_trunc(part, d)`` lies between ``d`` less the part's longest span and ``d``."""
    back = {"DAY": 0, "WEEK": 6, "MONTH": 30, "QUARTER": 91, "YEAR": 365, "ISOYEAR": 371}
    if part not in back:
        raise QueryRejected(f"Cannot derive bounds for date_trunc to {part[:16]}.")
    return days[0] - back[part], days[1]


def _shift(node: exp.Expression, days: Interval, interval_: exp.Expression) -> Interval:
    n = float(interval_.name)
    least, most = _UNIT_DAYS.get(str(interval_.text("unit")).upper(), (0, 0))
    if not most:
        raise _refuse(node)
    if isinstance(node, exp.Sub):
        return days[0] - n * most, days[1] - n * least
    return days[0] + n * least, days[1] + n * most


def date_interval(node: exp.Expression, leaf: Leaf) -> Interval:
    """The day ordinals a date-valued expression lies in (``leaf`` bounds a date column):
    ``MIN(CASE WHEN icd10 LIKE 'E11%' THEN visit_date END)`` lies in ``visit_date``'s.

    >>> import sqlglot
    >>> days = lambda col: (738521.0, 739251.0)
    >>> date_interval(sqlglot.parse_one("CASE WHEN x THEN d + INTERVAL 7 DAY END"), days)
    (738528.0, 739258.0)
    """
    return _days(node, leaf)


def _days(node: exp.Expression, leaf: Leaf) -> Interval:
    """The day ordinals a date-valued expression lies in."""
    if isinstance(node, exp.Paren):
        return _days(node.this, leaf)
    if isinstance(node, exp.Column):
        return leaf(node)
    if isinstance(node, exp.Cast) and node.to.this.name.upper() in ("DATE", "TIMESTAMP"):
        if isinstance(node.this, exp.Literal) and node.this.is_string:
            day = float(dt.date.fromisoformat(node.this.name).toordinal())
            return day, day
        return _days(node.this, leaf)
    if isinstance(node, (exp.DateTrunc, exp.TimestampTrunc)):
        return _trunc(str(node.text("unit")).upper(), _days(node.this, leaf))
    if isinstance(node, (exp.Add, exp.Sub)):
        moved, by = node.this, node.expression
        if isinstance(moved, exp.Interval):
            moved, by = by, moved
        if isinstance(by, exp.Interval):
            return _shift(node, _days(moved, leaf), by)
    if isinstance(node, exp.DateAdd) and isinstance(node.expression, exp.Interval):
        return _shift(node, _days(node.this, leaf), node.expression)
    branches: list[exp.Expression] = []
    if isinstance(node, exp.Case):
        branches = [i.args["true"] for i in node.args.get("ifs") or []]
        branches.append(node.args.get("default") or exp.Null())
    elif isinstance(node, exp.If):
        branches = [node.args["true"], node.args.get("false") or exp.Null()]
    elif isinstance(node, (exp.Coalesce, exp.Least, exp.Greatest)):
        branches = [node.this, *node.expressions]
    dates = [_days(b, leaf) for b in branches if not isinstance(b, exp.Null)]
    if not dates:
        raise _refuse(node)
    return _hull(dates)
