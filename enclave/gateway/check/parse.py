"""Stage 1: researcher SQL text → one sqlglot SELECT tree (DuckDB dialect) and canonical text.

Order of checks: length (before anything), tokens (one statement, starting with SELECT or
WITH; nesting depth; literal and name sizes, number literals in range), parse, tree (a
plain SELECT; depth, IN lists of literals only, plain casts, joins, aggregates, group
keys). A trailing ``;``, whitespace or comment after the statement is fine. Syntax errors
say so and name a line and column, never the text.

>>> from enclave.gateway.check.testing import example_context, request_state
>>> state = parse(request_state("select REGION, count(*) from persons group by region"),
...               example_context())
>>> state.normalized_sql
'SELECT region, COUNT(*) FROM persons GROUP BY region'
"""

from __future__ import annotations

import sqlglot
from sqlglot import exp
from sqlglot.dialects.dialect import Dialect
from sqlglot.errors import ParseError, SqlglotError, TokenError
from sqlglot.tokens import Token, TokenType

from enclave.errors import QueryRejected
from enclave.gateway.check.canonical import DIALECT, canonical, to_sql
from enclave.gateway.check.rules.limit_sizes import limit_length, limit_tokens, limit_tree
from enclave.gateway.check.rules.literal_lists import literal_lists
from enclave.gateway.check.rules.plain_casts import plain_casts
from enclave.gateway.check.rules.require_single_select import (
    require_single_select,
    require_single_select_tokens,
    syntax_error,
)
from enclave.gateway.values import GatewayContext, Parsed, Requested, advance

__all__ = ["parse"]

_TOO_DEEP = "The query is nested too deeply; simplify the expressions."


def _parse_error(exc: ParseError) -> QueryRejected:
    """Line and column of the start of the first offending token (sqlglot gives its end)."""
    if not exc.errors:
        return syntax_error()
    first = exc.errors[0]
    line, col, token = first.get("line"), first.get("col"), first.get("highlight")
    if not (isinstance(line, int) and isinstance(col, int)):
        return syntax_error()
    if isinstance(token, str) and token and "\n" not in token:
        col = max(1, col - len(token) + 1)
    return syntax_error(line, col)


def _position(sql: str, token: Token) -> tuple[int, int]:
    """1-based line and column where ``token`` starts."""
    start = token.start
    return sql.count("\n", 0, start) + 1, start - sql.rfind("\n", 0, start)


def _require_group_keys(sql: str, tokens: list[Token], select: exp.Select) -> None:
    """A bare ``GROUP BY`` (no key) is a syntax error; sqlglot would accept it."""
    for group in select.find_all(exp.Group):
        if not any(v not in (None, False, []) for v in group.args.values()):
            at = [t for t in tokens if t.token_type == TokenType.GROUP_BY]
            line, col = _position(sql, at[-1]) if at else (None, None)
            raise syntax_error(line, col, "GROUP BY needs at least one key")


def _tree(sql: str, tokens: list[Token]) -> exp.Expr | None:
    try:
        parsed = Dialect.get_or_raise(DIALECT).parser().parse(tokens, sql)
        # a comment after the final ';' comes back as a bare Semicolon statement
        statements = [s for s in parsed if s is not None and type(s) is not exp.Semicolon]
    except ParseError as exc:
        raise _parse_error(exc) from None
    except (TokenError, SqlglotError):
        raise QueryRejected(
            "Could not read the SQL (an unterminated string, quote or comment?); check it."
        ) from None
    except RecursionError:
        raise QueryRejected(_TOO_DEEP) from None
    return statements[0] if len(statements) == 1 else None


def parse(state: Requested, ctx: GatewayContext) -> Parsed:
    """Parse ``state.request.sql`` into ``state.ast`` and ``state.normalized_sql``.

    Raises:
        QueryRejected: not exactly one SELECT, a limit exceeded, an out-of-range number
            literal, a non-literal IN list item, a cast with options, or a syntax error.
    """
    sql = state.request.sql
    limits = ctx.dataset.limits
    limit_length(sql, limits)
    try:
        tokens = sqlglot.tokenize(sql, read=DIALECT)
    except (TokenError, SqlglotError):
        raise QueryRejected(
            "Could not read the SQL (an unterminated string, quote or comment?); check it."
        ) from None
    require_single_select_tokens(tokens)
    limit_tokens(tokens, limits)
    select = require_single_select(_tree(sql, tokens))
    _require_group_keys(sql, tokens, select)
    limit_tree(select, limits)
    literal_lists(select)
    plain_casts(select)
    try:
        normalized = to_sql(canonical(select))
    except RecursionError:
        raise QueryRejected(_TOO_DEEP) from None
    return advance(state, Parsed, ast=select, normalized_sql=normalized)
