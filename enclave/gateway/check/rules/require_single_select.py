"""Exactly one statement, and it is a SELECT (optionally with a WITH clause).

Checked twice: on the tokens before parsing (so no other statement kind ever reaches the
parser, whose fallback would accept unknown commands), and on the parsed tree.

A trailing ``;`` (or several), whitespace and comments after the one statement are fine.
A first word that is neither SELECT/WITH nor a statement keyword (``SELEC``, ``WTIH``)
is a typo: it is refused as a syntax error with its line and column, not as "another
statement kind".

>>> import sqlglot
>>> require_single_select_tokens(sqlglot.tokenize("SELECT 1; DROP TABLE claims"))
Traceback (most recent call last):
...
enclave.errors.QueryRejected: Only one SELECT statement is allowed (found a second statement after ';').
>>> require_single_select_tokens(sqlglot.tokenize("SELEC COUNT(*) FROM claims"))  # doctest: +ELLIPSIS
Traceback (most recent call last):
...
enclave.errors.QueryRejected: Syntax error near line 1, column 1: a query starts with SELECT or WITH; ...
>>> require_single_select(sqlglot.parse_one("SELECT COUNT(*) FROM claims")).sql()
'SELECT COUNT(*) FROM claims'
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlglot import exp
from sqlglot.tokens import Token, TokenType

from enclave.errors import QueryRejected

__all__ = [
    "ONLY_SELECT",
    "require_single_select",
    "require_single_select_tokens",
    "syntax_error",
]

ONLY_SELECT = "Only one SELECT statement is allowed"
_FIRST = {TokenType.SELECT, TokenType.WITH}
#: statement keywords that sqlglot's tokenizer reads as plain words (VAR): refused as
#: another statement kind, not as a typo
_STATEMENT_WORDS = frozenset(
    {
        "ABORT",
        "ANALYZE",
        "CHECKPOINT",
        "COMMENT",
        "DEALLOCATE",
        "END",
        "EXECUTE",
        "EXPORT",
        "FORCE",
        "GRANT",
        "IMPORT",
        "PREPARE",
        "RESET",
        "REVOKE",
        "START",
        "TRUNCATE",
        "UNINSTALL",
        "UNPIVOT",
        "UPSERT",
    }
)


def syntax_error(line: int | None = None, col: int | None = None, hint: str = "") -> QueryRejected:
    """The refusal for SQL that does not parse: where it went wrong, never the text there."""
    where = f" near line {line}, column {col}" if line is not None and col is not None else ""
    hint = hint or "check the SQL there"
    return QueryRejected(
        f"Syntax error{where}: {hint}. Write one SELECT statement in DuckDB SQL "
        "(see docs/sql-reference.md)."
    )


def require_single_select_tokens(tokens: Sequence[Token]) -> None:
    """Refuse empty input, a first word other than SELECT/WITH, and a second statement.

    Only ``;`` may follow the first ``;`` (comments are not tokens). A first token that is
    an unknown word is a typo (syntax error); any other first token is another statement.
    """
    if not tokens or all(t.token_type == TokenType.SEMICOLON for t in tokens):
        raise QueryRejected(f"{ONLY_SELECT}; the SQL is empty.")
    seen_end = False
    for token in tokens:
        if token.token_type == TokenType.SEMICOLON:
            seen_end = True
        elif seen_end:
            raise QueryRejected(f"{ONLY_SELECT} (found a second statement after ';').")
    first = tokens[0]
    if first.token_type == TokenType.VAR and first.text.upper() not in _STATEMENT_WORDS:
        raise syntax_error(first.line, max(1, first.col - len(first.text) + 1), _START_HINT)
    if first.token_type not in _FIRST:
        raise QueryRejected(
            f"{ONLY_SELECT}; write SELECT <keys>, <aggregates> FROM <table> … "
            "(statements that change data, settings or files are refused)."
        )


_START_HINT = "a query starts with SELECT or WITH; check the spelling of the first word"


def require_single_select(tree: exp.Expr | None) -> exp.Select:
    """The parsed statement must be a plain SELECT (not a set operation or a command)."""
    if isinstance(tree, exp.SetOperation):
        raise QueryRejected(
            "Set operations (UNION, INTERSECT, EXCEPT) are not supported; run separate "
            "queries and combine the released answers."
        )
    if not isinstance(tree, exp.Select) or tree.args.get("into") is not None:
        raise QueryRejected(f"{ONLY_SELECT} (no INTO, no other statement kinds).")
    return tree
