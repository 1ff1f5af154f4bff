"""Columns: every column resolves, unambiguously, to a column the project may use.

Unqualified names resolve against the FROM/JOIN sources of their own SELECT, then of the
enclosing SELECTs. In GROUP BY, HAVING and ORDER BY a name may also be an output alias.

>>> import sqlglot
>>> from enclave.gateway.check.catalog import Catalog
>>> cat = Catalog.example("pharmacy")
>>> allowed_columns(sqlglot.parse_one("SELECT SUM(amount) FROM prescriptions"), cat)
Traceback (most recent call last):
...
enclave.errors.PolicyViolation: Column prescriptions.amount is not available to project 'pharmacy'; allowed: person_id, drug_code, days_supply.
"""

from __future__ import annotations

from sqlglot import exp

from enclave.errors import PolicyViolation, QueryRejected
from enclave.gateway.check.catalog import Catalog
from enclave.gateway.check.names import (
    Source,
    cte_names,
    output_names,
    owner,
    shown,
    sources,
)

__all__ = ["Resolver", "allowed_columns", "resolve_column"]

_ALIAS_CLAUSES = (exp.Group, exp.Having, exp.Order)


def _in_alias_clause(column: exp.Column, select: exp.Select) -> bool:
    node: exp.Expr | None = column.parent
    while node is not None and node is not select:
        if isinstance(node, _ALIAS_CLAUSES) and node.parent is select:
            return True
        node = node.parent
    return False


Ctes = dict[str, exp.Expression]


def _body_names(body: exp.Expression | None, cat: Catalog, ctes: Ctes, depth: int = 0) -> list[str]:
    """The columns a WITH body exposes; its ``*`` is the columns of what it reads (a table,
    or an earlier WITH body's)."""
    names = [n for n in output_names(body) if n != "*"]
    if isinstance(body, exp.Select) and any(isinstance(e, exp.Star) for e in body.expressions):
        from_ = body.args.get("from_")
        if from_ is not None and isinstance(from_.this, exp.Table):
            read = str(from_.this.name).lower()
            if read in ctes and ctes[read] is not body and depth < len(ctes):
                names += _body_names(ctes[read], cat, ctes, depth + 1)
            else:
                names += list(cat.allowed_columns(read))
    return names


def _has(src: Source, name: str, cat: Catalog, ctes: Ctes) -> bool:
    if src.table is not None:
        return cat.column(src.table, name) is not None
    return name in _body_names(src.body, cat, ctes)


def _unknown(
    name: str, scopes: list[dict[str, Source]], cat: Catalog, ctes: Ctes
) -> PolicyViolation:
    parts: dict[str, str] = {}
    for scope in scopes:
        for src in scope.values():
            if src.table is not None:
                parts[src.table] = ", ".join(cat.allowed_columns(src.table))
            else:
                parts[src.alias] = ", ".join(_body_names(src.body, cat, ctes))
    usable = "; ".join(f"{k}: {v}" for k, v in sorted(parts.items()))
    return PolicyViolation(
        f"Column {name} is not a column of the tables in this query"
        + (f"; columns you may use — {usable}." if usable else ".")
    )


class Resolver:
    """Resolves columns of one tree, caching WITH names and each SELECT's sources."""

    def __init__(self, tree: exp.Expr, cat: Catalog) -> None:
        self.cat = cat
        self.ctes = cte_names(tree)
        self._scopes: dict[int, dict[str, Source]] = {}

    def sources(self, select: exp.Select) -> dict[str, Source]:
        key = id(select)
        if key not in self._scopes:
            self._scopes[key] = sources(select, self.ctes)
        return self._scopes[key]

    def __call__(self, column: exp.Column) -> Source | None:
        return resolve_column(column, self.cat, self)


def resolve_column(
    column: exp.Column, cat: Catalog, resolver: Resolver | None = None
) -> Source | None:
    """The source of ``column`` (None for an output alias in GROUP BY/HAVING/ORDER BY)."""
    if column.args.get("db") is not None or column.args.get("catalog") is not None:
        raise PolicyViolation(
            "Columns are written as column or alias.column; schema-qualified names are not allowed."
        )
    name = str(column.name).lower()
    qualifier = str(column.table).lower()
    name_shown = shown(column.this)
    qual_shown = shown(column.args.get("table"))
    resolver = resolver or Resolver(column.root(), cat)
    scopes: list[dict[str, Source]] = []
    select = owner(column)
    first = select
    while select is not None:
        scope = resolver.sources(select)
        scopes.append(scope)
        if qualifier:
            if qualifier in scope:
                if not _has(scope[qualifier], name, cat, resolver.ctes):
                    raise _unknown(f"{qual_shown}.{name_shown}", scopes, cat, resolver.ctes)
                return scope[qualifier]
        else:
            hits = [s for s in scope.values() if _has(s, name, cat, resolver.ctes)]
            if len(hits) > 1:
                raise QueryRejected(
                    f"Column {name} is in more than one table ({', '.join(s.alias for s in hits)}); "
                    f"qualify it, e.g. {hits[0].alias}.{name}."
                )
            if hits:
                return hits[0]
            if select is first and _in_alias_clause(column, select):
                if name in output_names(select):
                    return None
        select = owner(select)
    if qualifier:
        raise PolicyViolation(
            f"{qual_shown} is not a table or alias in this query; qualify columns with "
            "the table name or its alias."
        )
    raise _unknown(name_shown, scopes, cat, resolver.ctes)


def allowed_columns(tree: exp.Expression, cat: Catalog) -> exp.Expression:
    """Every column resolves and the project may use it."""
    project = cat.project.id if cat.project is not None else "?"
    resolve = Resolver(tree, cat)
    for column in tree.find_all(exp.Column):
        if isinstance(column.this, exp.Star):
            continue
        src = resolve(column)
        if src is None or src.table is None:
            continue
        name = str(column.name).lower()
        if not cat.allowed(src.table, name):
            raise PolicyViolation(
                f"Column {src.table}.{name} is not available to project '{project}'; "
                f"allowed: {', '.join(cat.allowed_columns(src.table))}."
            )
    return tree
