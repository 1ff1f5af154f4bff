"""Tables: every name in FROM/JOIN is a dataset table the project may use, or a WITH name.

WITH names may not reuse a table name (shadowing), and catalog or metadata names
(``information_schema``, ``duckdb_*``, ``pg_catalog``, ``sqlite_master``, ``main.*``, …)
are unknown tables: they never resolve, whatever the policy says.

>>> import sqlglot
>>> from enclave.gateway.check.catalog import Catalog
>>> cat = Catalog.example("pharmacy")
>>> allowed_tables(sqlglot.parse_one("SELECT COUNT(*) FROM claims"), cat)
Traceback (most recent call last):
...
enclave.errors.PolicyViolation: Table claims is not available to project 'pharmacy'; tables it may use: persons, prescriptions.
"""

from __future__ import annotations

from sqlglot import exp

from enclave.errors import PolicyViolation, QueryRejected
from enclave.gateway.check.catalog import RESERVED_TABLE_NAMES, Catalog
from enclave.gateway.check.names import FROM_TABLES_ONLY, cte_names, shown

__all__ = ["TABLE_OPTIONS", "allowed_tables", "no_shadowing"]

#: a table reference is a name, an alias and (refused below) a schema: any other option —
#: TABLESAMPLE, ONLY, AT (…), PIVOT, hints — is refused wherever the reference is, in a
#: WITH body or a cohort subquery too (a sample would make which rows a person keeps
#: depend on everyone else's rows)
TABLE_OPTIONS = (
    "FROM and JOIN accept table names only, with an alias (no TABLESAMPLE, ONLY, AT or "
    "PIVOT), in WITH bodies and subqueries too."
)
_TABLE_ARGS = frozenset({"this", "alias", "db", "catalog", "joins"})  # joins: refused later


def _dotted(table: exp.Table) -> str:
    return ".".join(shown(part) for part in table.parts)


def _project(cat: Catalog) -> str:
    return cat.project.id if cat.project is not None else "?"


def no_shadowing(tree: exp.Expression, cat: Catalog) -> exp.Expression:
    """A WITH name must not equal a table or catalog name."""
    for name in cte_names(tree):
        if (
            cat.dataset.table(name) is not None
            or name in RESERVED_TABLE_NAMES
            or name.startswith("duckdb_")
        ):
            raise QueryRejected(
                f"The WITH name {name} hides a table of the same name; choose another name "
                f"(e.g. {name}_filtered)."
            )
    return tree


def allowed_tables(tree: exp.Expression, cat: Catalog) -> exp.Expression:
    """Every table reference is a CTE name or a policy table allowed for the project."""
    ctes = cte_names(tree)
    allowed = ", ".join(cat.allowed_tables())
    for table in tree.find_all(exp.Table):
        if not isinstance(table.this, exp.Identifier):
            raise QueryRejected(FROM_TABLES_ONLY)
        if any(k not in _TABLE_ARGS and v not in (None, False, []) for k, v in table.args.items()):
            raise QueryRejected(TABLE_OPTIONS)
        name = str(table.name).lower()
        qualified = table.args.get("db") is not None or table.args.get("catalog") is not None
        if not qualified and name in ctes:
            continue
        if qualified or cat.table(name) is None:
            raise PolicyViolation(
                f"Unknown table {_dotted(table)}; tables available to project "
                f"'{_project(cat)}': {allowed}."
            )
        if not cat.table_allowed(name):
            raise PolicyViolation(
                f"Table {name} is not available to project '{_project(cat)}'; "
                f"tables it may use: {allowed}."
            )
    return tree
