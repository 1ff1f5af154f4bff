"""Kinds of expression nodes that several rules name: one list each, in one place.

>>> exp.GT in COMPARISONS and exp.And in LOGIC and exp.Mul in ARITHMETIC
True
"""

from __future__ import annotations

from sqlglot import exp

__all__ = ["ARITHMETIC", "COMPARISONS", "LEAVES", "LOGIC", "TESTS"]

#: ``= <> < <= > >=``
COMPARISONS: tuple[type[exp.Expression], ...] = (
    exp.EQ,
    exp.NEQ,
    exp.GT,
    exp.GTE,
    exp.LT,
    exp.LTE,
)
#: ``AND OR NOT``
LOGIC: tuple[type[exp.Expression], ...] = (exp.And, exp.Or, exp.Not)
#: ``IS``, ``IN (…)``, ``BETWEEN``
TESTS: tuple[type[exp.Expression], ...] = (exp.Is, exp.In, exp.Between)
#: ``+ - * /`` and unary minus
ARITHMETIC: tuple[type[exp.Expression], ...] = (exp.Add, exp.Sub, exp.Mul, exp.Div, exp.Neg)
#: literals and grouping
LEAVES: tuple[type[exp.Expression], ...] = (exp.Literal, exp.Null, exp.Boolean, exp.Paren)
