"""Name resolution for the front half: which table or WITH body a column comes from.

The front half accepts a narrow shape, but ``authorise`` runs before ``check_shape`` and
must cope with any SELECT sqlglot can parse, so resolution walks every SELECT in the tree
(correlated names resolve through enclosing SELECTs).

>>> import sqlglot
>>> tree = sqlglot.parse_one("SELECT COUNT(*) FROM claims c JOIN persons p ON c.person_id = p.person_id")
>>> sorted((a, s.table) for a, s in sources(tree).items())
[('c', 'claims'), ('p', 'persons')]
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlglot import exp

from enclave.errors import QueryRejected

__all__ = [
    "FROM_TABLES_ONLY",
    "RENAMING",
    "Source",
    "cte_names",
    "output_names",
    "owner",
    "shown",
    "source_columns",
    "sources",
]

FROM_TABLES_ONLY = (
    "FROM and JOIN accept table names only; table functions, files, URLs, VALUES and "
    "UNNEST are not allowed."
)


@dataclass(frozen=True)
class Source:
    """A name visible in FROM/JOIN: a policy table, or a WITH body / derived table."""

    alias: str
    table: str | None
    body: exp.Expression | None


def shown(node: exp.Expr | None) -> str:
    """A name safe to put in a message: plain names as written, quoted ones not echoed.

    A single-quoted "table" (``FROM 'file.csv'``) parses as a quoted identifier, so
    quoted names might be literals and are never repeated back.

    >>> shown(exp.to_identifier("clams")), shown(exp.to_identifier("x y", quoted=True))
    ('clams', '(a quoted name)')
    """
    ident = node.this if isinstance(node, (exp.Column, exp.Table)) else node
    if isinstance(ident, exp.Identifier):
        name = str(ident.name)
        if not ident.quoted and exp.SAFE_IDENTIFIER_RE.match(name) and len(name) <= 64:
            return name.lower()
    return "(a quoted name)"


def _name(node: exp.Expression | None) -> str:
    return "" if node is None else str(node.name).lower()


def cte_names(tree: exp.Expr) -> dict[str, exp.Expression]:
    """Every WITH name in the tree, with its body (names are global in this narrow dialect).

    Raises QueryRejected for a column list after a WITH name (it renames columns).
    """
    for cte in tree.find_all(exp.CTE):
        alias = cte.args.get("alias")
        if isinstance(alias, exp.TableAlias) and alias.args.get("columns"):
            raise QueryRejected(RENAMING)
    return {
        _name(cte.args.get("alias")) or cte.alias.lower(): cte.this
        for cte in tree.find_all(exp.CTE)
    }


RENAMING = (
    "Column lists after a table or WITH name (AS t(a, b)) rename columns and are not "
    "supported; use the schema's column names, or aliases inside a WITH body."
)


def _source(node: exp.Expression, ctes: dict[str, exp.Expression]) -> Source:
    alias = node.args.get("alias")
    if isinstance(alias, exp.TableAlias) and alias.args.get("columns"):
        raise QueryRejected(RENAMING)
    if isinstance(node, exp.Table):
        if not isinstance(node.this, exp.Identifier):
            raise QueryRejected(FROM_TABLES_ONLY)
        name = _name(node.this)
        alias = node.alias.lower() or name
        if not node.args.get("db") and not node.args.get("catalog") and name in ctes:
            return Source(alias, None, ctes[name])
        return Source(alias, name, None)
    if isinstance(node, exp.Subquery):
        return Source(node.alias.lower(), None, node.this)
    raise QueryRejected(FROM_TABLES_ONLY)


def sources(
    select: exp.Expression, ctes: dict[str, exp.Expression] | None = None
) -> dict[str, Source]:
    """Names introduced by the FROM and JOIN clauses of one SELECT."""
    if not isinstance(select, exp.Select):
        return {}
    ctes = cte_names(select.root()) if ctes is None else ctes
    found: dict[str, Source] = {}
    nodes: list[exp.Expression] = []
    from_ = select.args.get("from_")
    if from_ is not None:
        nodes.append(from_.this)
    nodes.extend(join.this for join in select.args.get("joins") or ())
    for node in nodes:
        src = _source(node, ctes)
        if src.alias in found:
            raise QueryRejected(
                f"The name {src.alias} is used twice in FROM/JOIN; give each table its own alias."
            )
        found[src.alias] = src
    return found


def output_names(body: exp.Expression | None) -> list[str]:
    """Column names a WITH body or derived table exposes."""
    if isinstance(body, exp.Select):
        return [e.alias_or_name.lower() for e in body.expressions]
    return []


def source_columns(src: Source, catalog_columns: dict[str, tuple[str, ...]]) -> tuple[str, ...]:
    """Column names of a source: the policy table's, or a body's outputs."""
    if src.table is not None:
        return catalog_columns.get(src.table, ())
    return tuple(output_names(src.body))


def owner(node: exp.Expression) -> exp.Select | None:
    """The nearest enclosing SELECT of ``node``."""
    parent = node.parent
    while parent is not None and not isinstance(parent, exp.Select):
        parent = parent.parent
    return parent
