"""Resource limits: SQL length, nesting, literal and identifier sizes, IN lists, joins, keys.

Length and token-level checks run *before* the parser so that a giant or deeply nested
input never reaches it; the tree-level checks run right after parsing. Numbers come from
``DatasetPolicy.limits``; literal and identifier sizes are fixed here.

Number literals: at most ``MAX_NUMBER_DIGITS`` (18) digits before any exponent — so an
integer literal always fits a BIGINT and a decimal one a DECIMAL(18) — and a value that
is a finite DOUBLE (``1e400`` is refused; so is a non-zero literal such as ``1e-400``
that a DOUBLE rounds to 0). Write ``1.5e20``, not ``150000000000000000000``. The message
states the rule, never the literal.

>>> from enclave.policy import Limits
>>> import sqlglot
>>> limit_in_lists(sqlglot.parse_one("SELECT COUNT(*) FROM t WHERE x IN (1, 2, 3)"), Limits(max_in_list=2))
Traceback (most recent call last):
...
enclave.errors.QueryRejected: An IN list has 3 items; at most 2 are allowed. Use LIKE or BETWEEN, or split the query.
>>> limit_tokens(sqlglot.tokenize("SELECT 1e400"), Limits())  # doctest: +ELLIPSIS
Traceback (most recent call last):
...
enclave.errors.QueryRejected: Number literals must be finite DOUBLE values ...
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from sqlglot import exp
from sqlglot.tokens import Token, TokenType

from enclave.errors import QueryRejected
from enclave.policy import Limits

__all__ = [
    "MAX_IDENTIFIER_LENGTH",
    "MAX_NUMBER_DIGITS",
    "MAX_STRING_LITERAL",
    "MAX_TREE_DEPTH",
    "limit_in_lists",
    "limit_length",
    "limit_tokens",
    "limit_tree",
]

MAX_STRING_LITERAL = 200
MAX_IDENTIFIER_LENGTH = 64
#: digits of a number literal before any exponent (≤ 18 always fits BIGINT / DECIMAL(18))
MAX_NUMBER_DIGITS = 18
#: tree depth cap (nodes, not parentheses): generous for real queries, far from recursion
MAX_TREE_DEPTH = 120

_OPEN = {TokenType.L_PAREN, TokenType.L_BRACKET, TokenType.L_BRACE, TokenType.CASE}
_CLOSE = {TokenType.R_PAREN, TokenType.R_BRACKET, TokenType.R_BRACE, TokenType.END}
_STRINGS = {
    TokenType.STRING,
    TokenType.NATIONAL_STRING,
    TokenType.RAW_STRING,
    TokenType.BYTE_STRING,
    TokenType.HEX_STRING,
    TokenType.BIT_STRING,
    TokenType.HEREDOC_STRING,
    TokenType.UNICODE_STRING,
}
_NAMES = {TokenType.IDENTIFIER, TokenType.VAR}


def _check_number(text: str) -> None:
    """A number literal has at most MAX_NUMBER_DIGITS digits and is a finite DOUBLE."""
    mantissa = text.replace("_", "").lower().partition("e")[0]
    digits = [c for c in mantissa if c.isdigit()]
    if len(digits) > MAX_NUMBER_DIGITS:
        raise QueryRejected(
            f"Number literals may have at most {MAX_NUMBER_DIGITS} digits (before any "
            "exponent); write large or very precise numbers with an exponent, e.g. 1.5e20."
        )
    try:
        value = float(text.replace("_", ""))
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or (value == 0.0 and any(c != "0" for c in digits)):
        raise QueryRejected(
            "Number literals must be finite DOUBLE values (magnitude at most about 1.8e308, "
            "and not so small that they round to 0), written as digits with an optional "
            "decimal point and exponent."
        )


def limit_length(sql: str, limits: Limits) -> None:
    """Refuse SQL longer than ``limits.max_sql_length`` characters (checked before parsing)."""
    if len(sql) > limits.max_sql_length:
        raise QueryRejected(
            f"The SQL is {len(sql)} characters long; the limit is {limits.max_sql_length}. "
            "Shorten it (e.g. fewer IN-list items)."
        )


def limit_tokens(tokens: Sequence[Token], limits: Limits) -> None:
    """Nesting depth, string-literal, number-literal and identifier sizes, from the tokens."""
    depth = deepest = 0
    for token in tokens:
        kind = token.token_type
        if kind in _OPEN:
            depth += 1
            deepest = max(deepest, depth)
        elif kind in _CLOSE:
            depth -= 1
        elif kind in _STRINGS and len(token.text) > MAX_STRING_LITERAL:
            raise QueryRejected(
                f"String literals may have at most {MAX_STRING_LITERAL} characters; "
                "use LIKE with a shorter pattern or an IN list."
            )
        elif kind == TokenType.NUMBER:
            _check_number(token.text)
        elif kind in _NAMES and len(token.text) > MAX_IDENTIFIER_LENGTH:
            raise QueryRejected(
                f"Names may have at most {MAX_IDENTIFIER_LENGTH} characters; use the "
                "table and column names of the schema."
            )
    if deepest > limits.max_depth:
        raise QueryRejected(
            f"The query is nested {deepest} levels deep; the limit is {limits.max_depth}. "
            "Simplify the expressions."
        )


def _census(tree: exp.Expr) -> tuple[int, int, int, list[int], list[int]]:
    """One pass: depth, joins, aggregates, IN-list sizes, GROUP BY sizes."""
    deepest = joins = aggs = 0
    in_lists: list[int] = []
    groups: list[int] = []
    stack: list[tuple[exp.Expr, int]] = [(tree, 1)]
    while stack:
        node, depth = stack.pop()
        deepest = max(deepest, depth)
        if depth > MAX_TREE_DEPTH:
            break
        if isinstance(node, exp.Join):
            joins += 1
        elif isinstance(node, exp.AggFunc):
            aggs += 1
        elif isinstance(node, exp.In):
            in_lists.append(len(node.expressions))
        elif isinstance(node, exp.Group):
            groups.append(len(node.expressions))
        stack.extend((child, depth + 1) for child in node.iter_expressions())
    return deepest, joins, aggs, in_lists, groups


def limit_in_lists(tree: exp.Expression, limits: Limits) -> exp.Expression:
    """Every IN list has at most ``limits.max_in_list`` items."""
    for node in tree.find_all(exp.In):
        n = len(node.expressions)
        if n > limits.max_in_list:
            raise QueryRejected(
                f"An IN list has {n} items; at most {limits.max_in_list} are allowed. "
                "Use LIKE or BETWEEN, or split the query."
            )
    return tree


def limit_tree(tree: exp.Expression, limits: Limits) -> exp.Expression:
    """Tree depth, IN lists, and the number of joins, aggregates and group keys."""
    depth, joins, aggs, in_lists, groups = _census(tree)
    if depth > MAX_TREE_DEPTH:
        raise QueryRejected(
            "The query's expressions are nested too deeply; simplify them "
            "(e.g. fewer chained AND/OR or arithmetic terms)."
        )
    for n in in_lists:
        if n > limits.max_in_list:
            raise QueryRejected(
                f"An IN list has {n} items; at most {limits.max_in_list} are allowed. "
                "Use LIKE or BETWEEN, or split the query."
            )
    if joins > limits.max_joins:
        raise QueryRejected(f"The query has {joins} joins; at most {limits.max_joins} are allowed.")
    if aggs > limits.max_aggregates:
        raise QueryRejected(
            f"The query has {aggs} aggregates; at most {limits.max_aggregates} are allowed. "
            "Split it into several queries."
        )
    for keys in groups:
        if keys > limits.max_group_keys:
            raise QueryRejected(
                f"GROUP BY has {keys} keys; at most {limits.max_group_keys} are allowed."
            )
    return tree
