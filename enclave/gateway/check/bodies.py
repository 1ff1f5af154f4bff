"""What every WITH body the gateway keeps shares: one protected table, qualified columns.

Patient-level bodies (``check.person_tables``) and window bodies (``check.window_tables``)
both read one protected table of the dataset — or a table an earlier WITH body defined —
under one alias, and every column they name belongs to it and is one the project may read.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

from sqlglot import exp

from enclave.errors import PolicyViolation, QueryRejected
from enclave.gateway.check.catalog import Catalog
from enclave.gateway.check.rules.allowed_nodes import allowed_nodes
from enclave.gateway.check.rules.total_expressions import Typer
from enclave.policy import TablePolicy

__all__ = ["Body", "base_table", "open_body", "qualify_body"]

_ONE_TABLE = (
    "A WITH body that groups by the person or uses windows reads one table (no joins): "
    "FROM claims, diagnoses, prescriptions, persons or an earlier WITH table."
)


_COHORT_INSIDE = (
    "A WITH body that groups by the person or uses windows reads one table, without "
    "subqueries: put cohort filters (person_id IN (SELECT …), EXISTS (…)) in the outer "
    "query's WHERE, or make the cohort a patient-level table and join it on the person column."
)


def base_table(body: exp.Select, cat: Catalog) -> tuple[TablePolicy, str]:
    """The body's one protected table and its alias (set on the FROM, lower case)."""
    from_ = body.args.get("from_")
    node = from_.this if from_ is not None else None
    if body.args.get("joins") or not isinstance(node, exp.Table) or node.args.get("db"):
        raise QueryRejected(_ONE_TABLE)
    table = cat.table(str(node.name).lower())
    if table is None or not table.protected or table.person_column is None:
        raise QueryRejected(
            "A patient-level WITH body must read one protected table of the dataset "
            "(claims, diagnoses, prescriptions or persons)."
        )
    if not cat.table_allowed(table.name):
        raise PolicyViolation(f"Table {table.name} is not available to this project.")
    alias = (node.alias or table.name).lower()
    node.set("alias", exp.TableAlias(this=exp.to_identifier(alias)))
    node.set("this", exp.to_identifier(table.name))
    return table, alias


def qualify_body(body: exp.Select, table: TablePolicy, alias: str, cat: Catalog) -> None:
    """Qualify every column with ``alias``; refuse columns the table or project lacks."""
    outputs = {e.alias.lower() for e in body.expressions if isinstance(e, exp.Alias)}
    for column in list(body.find_all(exp.Column)):
        qualifier, name = str(column.table).lower(), str(column.name).lower()
        if isinstance(column.this, exp.Star):
            raise QueryRejected(_ONE_TABLE)
        if not qualifier and name in outputs and _in_having(column):
            continue  # an output alias in HAVING (resolved by ``_having``)
        if qualifier not in ("", alias) or table.column(name) is None:
            raise QueryRejected(
                f"{name[:64]} is not a column of {table.name}; a patient-level WITH body "
                "reads one table."
            )
        if not cat.allowed(table.name, name):
            raise PolicyViolation(
                f"Column {table.name}.{name[:64]} is not available to this project."
            )
        column.set("table", exp.to_identifier(alias))
        column.set("this", exp.to_identifier(name))


def _in_having(node: exp.Expression) -> bool:
    parent = node.parent
    while parent is not None and not isinstance(parent, exp.Select):
        if isinstance(parent, exp.Having):
            return True
        parent = parent.parent
    return False


@dataclass(frozen=True)
class Body:
    """A kept WITH body, opened: its copied SELECT, its table and alias, and a typer."""

    select: exp.Select
    table: TablePolicy
    alias: str
    typer: Typer

    @property
    def person(self) -> str:
        return self.table.person_column or ""


def open_body(body: exp.Select, cat: Catalog, clauses: Collection[str], shape: str) -> Body:
    """A copy of ``body`` with only ``clauses``, one table, qualified columns, a typed WHERE."""
    body = body.copy()
    for key, value in body.args.items():
        if key not in clauses and value not in (None, False, []):
            raise QueryRejected(shape)
    if body.find(exp.Subquery, exp.Exists) is not None or any(
        n.args.get("query") is not None for n in body.find_all(exp.In)
    ):
        raise QueryRejected(_COHORT_INSIDE)
    table, alias = base_table(body, cat)
    qualify_body(body, table, alias, cat)
    typer = Typer({alias: table.name}, cat)
    where = body.args.get("where")
    if where is not None:
        allowed_nodes(where.this)
        typer.want(where.this, "bool")
    return Body(body, table, alias, typer)
