"""The functions researchers may call: total scalar functions and DP-able aggregates.

Anything not listed is refused, including unknown names. Aggregates that return or
depend on single rows' values (MIN, MAX, FIRST, ANY_VALUE, ARG_MAX, STRING_AGG, LIST,
MODE, HISTOGRAM, BIT_*, QUANTILE_DISC, …) are refused with a pointer to what works.

>>> import sqlglot
>>> allowed_functions(sqlglot.parse_one("SELECT MAX(amount) FROM claims"))  # doctest: +ELLIPSIS
Traceback (most recent call last):
...
enclave.errors.QueryRejected: Aggregate MAX is not allowed: it returns ... MEDIAN, QUANTILE_CONT.
>>> allowed_functions(sqlglot.parse_one("SELECT SUM(amount) FROM claims")).sql()
'SELECT SUM(amount) FROM claims'
"""

from __future__ import annotations

from sqlglot import exp

from enclave.errors import QueryRejected
from enclave.gateway.check.rules.total_functions import DATE_PARTS

__all__ = [
    "AGGREGATES",
    "ANONYMOUS_SCALARS",
    "SCALARS",
    "allowed_functions",
    "check_function",
    "function_name",
]

#: aggregates the back half knows how to make private
AGGREGATES: frozenset[type[exp.Expression]] = frozenset(
    {
        exp.Count,
        exp.Sum,
        exp.Avg,
        exp.Variance,
        exp.VariancePop,
        exp.Stddev,
        exp.StddevSamp,
        exp.StddevPop,
        exp.Median,
        exp.PercentileCont,
    }
)

#: total scalar functions (never raise on any input of the right type)
SCALARS: frozenset[type[exp.Expression]] = frozenset(
    {
        exp.Abs,
        exp.Round,
        exp.Floor,
        exp.Ceil,
        exp.Least,
        exp.Greatest,
        exp.Coalesce,
        exp.Case,
        exp.If,
        exp.Cast,
        exp.Upper,
        exp.Lower,
        exp.Trim,
        exp.Length,
        exp.Substring,
        exp.Left,
        exp.DateTrunc,
        exp.TimestampTrunc,
        exp.Extract,
        exp.TimeToStr,
        exp.DateAdd,
        *DATE_PARTS,
    }
)

#: functions sqlglot does not model, allowed by name
ANONYMOUS_SCALARS = frozenset({"date_part", "isoyear"})

_AGG_HINT = (
    "use COUNT(*), COUNT(DISTINCT person_id), SUM, AVG, VAR_SAMP/VAR_POP, "
    "STDDEV_SAMP/STDDEV_POP, MEDIAN, QUANTILE_CONT"
)
_SCALAR_HINT = (
    "allowed functions: abs, round, floor, ceil, least, greatest, coalesce, CASE, "
    "CAST (to DOUBLE or VARCHAR), upper, lower, trim, length, substr, left, date_trunc, "
    "extract/date_part, strftime, year, quarter, month, week, day, dayofweek, isodow, "
    "dayofyear, isoyear, date_diff ('day' or 'week'), date_add and d ± INTERVAL n DAY"
)


def function_name(node: exp.Expr) -> str:
    """The SQL name of a function node, as the user would recognise it."""
    if isinstance(node, exp.Anonymous):
        return str(node.name).upper()[:64]
    if isinstance(node, exp.Func):
        return node.sql_name()
    return type(node).__name__.upper()


def _is_agg(node: exp.Expr) -> bool:
    return isinstance(node, exp.AggFunc) or (
        isinstance(node, exp.Anonymous) and str(node.name).lower() in _ANON_AGGS
    )


_ANON_AGGS = frozenset(
    {
        "histogram",
        "entropy",
        "product",
        "favg",
        "fsum",
        "sumkahan",
        "geomean",
        "mad",
        "reservoir_quantile",
        "arbitrary",
        "bitstring_agg",
        "list",
        "mode",
        "first",
        "last",
    }
)


def allowed_functions(tree: exp.Expression) -> exp.Expression:
    """Refuse any function or aggregate that is not allow-listed."""
    for node in tree.walk():
        if not isinstance(node, exp.Func) or isinstance(node, (exp.Column, exp.Star)):
            continue
        kind = type(node)
        if kind in AGGREGATES or kind in SCALARS:
            continue
        if isinstance(node, exp.Anonymous) and str(node.name).lower() in ANONYMOUS_SCALARS:
            continue
        check_function(node)
    return tree


def check_function(node: exp.Expr) -> None:
    """Raise the refusal for a function node that is not allow-listed."""
    name = function_name(node)
    if _is_agg(node):
        raise QueryRejected(
            f"Aggregate {name} is not allowed: it returns or depends on single rows' "
            f"values, which differential privacy cannot protect; {_AGG_HINT}."
        )
    raise QueryRejected(
        f"Function {name} is not allowed (it could fail on some rows, reach outside "
        f"the data, or is not deterministic); {_SCALAR_HINT}."
    )
