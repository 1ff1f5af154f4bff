"""Canonical SQL text for a tree: lower-case names, quotes only where needed, no comments.

Two queries that differ only in whitespace, keyword case, identifier case or identifier
quoting produce the same text (DuckDB treats identifiers case-insensitively). Literals are
kept: they are part of the question and of the cache key.

>>> import sqlglot
>>> a = to_sql(canonical(sqlglot.parse_one('select "Region", count(*) from CLAIMS', read="duckdb")))
>>> b = to_sql(canonical(sqlglot.parse_one("SELECT region ,COUNT( * ) FROM claims", read="duckdb")))
>>> a == b, a
(True, 'SELECT region, COUNT(*) FROM claims')
"""

from __future__ import annotations

from sqlglot import exp
from sqlglot.dialects.duckdb import DuckDB

__all__ = ["DIALECT", "canonical", "to_sql"]

DIALECT = "duckdb"
_RESERVED = frozenset(DuckDB.Generator.RESERVED_KEYWORDS)


def canonical(tree: exp.Expression) -> exp.Expression:
    """Lower-case identifiers and drop comments, in place; returns ``tree``.

    Quoting is left as written (a quoted name may have been a single-quoted literal, which
    messages must not echo); :func:`to_sql` normalises it in the text.
    """
    for node in tree.walk():
        node.comments = None
        if isinstance(node, exp.Identifier):
            node.set("this", str(node.this).lower())
    return tree


def to_sql(tree: exp.Expression) -> str:
    """One-line DuckDB SQL for a (canonical) tree, quoting names only where needed."""
    written: list[tuple[exp.Identifier, bool]] = []
    for node in tree.find_all(exp.Identifier):
        name = str(node.this)
        safe = exp.SAFE_IDENTIFIER_RE.match(name) is not None and name not in _RESERVED
        written.append((node, bool(node.args.get("quoted"))))
        node.args["quoted"] = not safe
    try:
        return tree.sql(dialect=DIALECT, pretty=False)
    finally:
        for node, quoted in written:
            node.args["quoted"] = quoted
