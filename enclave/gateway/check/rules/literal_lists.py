"""IN lists hold literals only: the values a researcher names, never an expression.

An item of ``x IN (…)`` is a number, text, NULL or boolean literal, a negative number
literal (``-3``) or a date literal ``DATE 'YYYY-MM-DD'`` (also written
``CAST('YYYY-MM-DD' AS DATE)`` or ``'YYYY-MM-DD'::DATE``) of a valid date. Anything else —
a column, ``CAST(col AS VARCHAR)``, ``-col``, arithmetic, a function, a parenthesised or
doubly negated value, a subquery, an empty list — is refused, so no row value can be evaluated inside
an IN list (where an error or an implicit conversion would depend on that row).

Runs on the whole tree (WITH bodies, WHERE, ON, keys, HAVING), before any typing.

>>> import sqlglot
>>> sql = "SELECT COUNT(*) FROM claims WHERE icd10 IN ('E11', CAST(amount AS VARCHAR))"
>>> literal_lists(sqlglot.parse_one(sql, read="duckdb"))  # doctest: +ELLIPSIS
Traceback (most recent call last):
...
enclave.errors.QueryRejected: IN lists may hold only literal values: ...
>>> ok = "SELECT COUNT(*) FROM claims WHERE los_days IN (-1, 2.5, NULL) OR setting IN ('a')"
>>> literal_lists(sqlglot.parse_one(ok, read="duckdb")).sql()
"SELECT COUNT(*) FROM claims WHERE los_days IN (-1, 2.5, NULL) OR setting IN ('a')"
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any, TypeVar

from sqlglot import exp

from enclave.errors import QueryRejected

__all__ = ["LITERALS_ONLY", "is_list_literal", "literal_lists"]

E = TypeVar("E", bound=exp.Expression)

LITERALS_ONLY = (
    "IN lists may hold only literal values: numbers (also negative, e.g. -3), 'text', "
    "NULL, TRUE/FALSE and DATE 'YYYY-MM-DD' dates; no columns, casts of columns, "
    "arithmetic or functions. Write the values out, e.g. x IN ('E10', 'E11')."
)
_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


def _plain(node: exp.Expression, allowed: set[str]) -> bool:
    """``node`` sets no argument outside ``allowed`` (so nothing hides in a literal)."""
    return all(k in allowed for k, v in node.args.items() if v not in (None, False, []))


def _date_literal(node: exp.Cast) -> bool:
    text, to = node.this, node.args.get("to")
    if type(node) is not exp.Cast or not _plain(node, {"this", "to"}):
        return False
    if not (isinstance(to, exp.DataType) and to.is_type(exp.DataType.Type.DATE)):
        return False
    if to.expressions or not (isinstance(text, exp.Literal) and text.is_string):
        return False
    if not _ISO_DATE.fullmatch(text.name):
        return False
    try:
        dt.date.fromisoformat(text.name)
    except ValueError:
        return False
    return True


def is_list_literal(node: exp.Expression) -> bool:
    """Whether ``node`` may be an item of an IN list."""
    if isinstance(node, (exp.Null, exp.Boolean)):
        return True
    if isinstance(node, exp.Literal):
        return _plain(node, {"this", "is_string"})
    if isinstance(node, exp.Neg):
        inner = node.this
        return (
            _plain(node, {"this"})
            and isinstance(inner, exp.Literal)
            and not inner.is_string
            and _plain(inner, {"this", "is_string"})
        )
    if isinstance(node, exp.Cast):
        return _date_literal(node)
    return False


def literal_lists(tree: E, cat: Any = None) -> E:
    """Refuse an IN whose list holds anything but literals (see the module docstring).

    ``cat`` is unused; it keeps the ``rule(select, catalog)`` shape of ``check_shape``.
    """
    for node in tree.find_all(exp.In):
        if node.args.get("query") is not None and not node.expressions:
            continue  # a cohort filter: ``check.cohorts`` rewrites or refuses it
        if any(node.args.get(k) for k in ("query", "unnest", "field")):
            raise QueryRejected(LITERALS_ONLY)
        if not node.expressions or not all(is_list_literal(i) for i in node.expressions):
            raise QueryRejected(LITERALS_ONLY)
    return tree
