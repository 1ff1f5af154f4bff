"""Window tables: a WITH body whose windows look only at the same person's rows.

``WITH adm AS (SELECT person_id, visit_date, LAG(visit_date) OVER (PARTITION BY
person_id ORDER BY visit_date) AS prev FROM claims WHERE setting = 'inpatient')`` keeps
one row per claim and adds, to each, a value from the same person's previous claim — the
building block of readmission and episode questions. The table is protected, like the one
it reads; the outer query (or a patient-level body, ``check.person_tables``) uses it like
that table, with the same contribution bounds.

What a body may hold: ``FROM`` one protected table, an optional row ``WHERE``; the person
column; columns of the table (``*`` for all the project may read); and aliased windows
``LAG(col[, k])``, ``LEAD(col[, k])`` (``k`` a literal from 1 to 100) or
``ROW_NUMBER()``, each ``OVER (PARTITION BY <person column> ORDER BY <columns>)`` with no
frame. ``ORDER BY`` is completed with every column of the table the project may read
(identifiers aside), so which row is "previous" depends on the person's own rows alone,
never on the order rows were stored in, nor on a column the project may not read. Numeric outputs are DOUBLE (nothing outside can overflow).

>>> import sqlglot
>>> from enclave.gateway.check.catalog import Catalog
>>> body = sqlglot.parse_one("SELECT person_id, visit_date, LAG(visit_date) OVER "
...     "(PARTITION BY person_id ORDER BY visit_date) AS prev FROM claims")
>>> t = window_table("adm", body, Catalog.example())
>>> [(c.name, c.role) for c in t.table.columns]
[('person_id', 'identifier'), ('visit_date', 'date'), ('prev', 'date')]
"""

from __future__ import annotations

import dataclasses

from sqlglot import exp

from enclave.errors import PolicyViolation, QueryRejected
from enclave.gateway.check.bodies import open_body
from enclave.gateway.check.catalog import Catalog
from enclave.gateway.values import PersonTable
from enclave.policy import ColumnPolicy, TablePolicy
from enclave.schema import TABLES

__all__ = ["is_window_table", "window_table"]

_BODY_ARGS = frozenset({"expressions", "from_", "where"})
_SHAPE = (
    "A WITH body with windows reads one table: name AS (SELECT person_id, visit_date, "
    "LAG(visit_date) OVER (PARTITION BY person_id ORDER BY visit_date) AS prev FROM claims "
    "WHERE …) — LAG, LEAD or ROW_NUMBER over the person's own rows, no frame, no GROUP BY."
)
_DOUBLE = exp.DataType.build("DOUBLE")


def is_window_table(body: exp.Expression) -> bool:
    """Whether a WITH body is a window table (a SELECT with a window, no GROUP BY)."""
    return (
        isinstance(body, exp.Select)
        and body.args.get("group") is None
        and any(True for _ in body.find_all(exp.Window))
    )


def window_table(name: str, body: exp.Select, cat: Catalog) -> PersonTable:
    """The checked body and the protected table it stands for."""
    opened = open_body(body, cat, _BODY_ARGS, _SHAPE)
    body, table, alias, person = opened.select, opened.table, opened.alias, opened.person
    items: list[exp.Expr] = [exp.column(person, table=alias).as_(person)]
    columns = [ColumnPolicy(person, "identifier")]
    for item in body.expressions:
        for expr, column in _items(item, table, alias, person, cat):
            if column.name in {c.name for c in columns}:
                if column.name == person:
                    continue
                raise QueryRejected(f"The column {column.name[:64]} is selected twice.")
            items.append(expr)
            columns.append(column)
    body.set("expressions", items)
    virtual = TablePolicy(name, protected=True, person_column=person, columns=tuple(columns))
    return PersonTable(name, body, virtual)


def _items(
    item: exp.Expression, table: TablePolicy, alias: str, person: str, cat: Catalog
) -> list[tuple[exp.Expr, ColumnPolicy]]:
    if isinstance(item, exp.Star) or (isinstance(item, exp.Column) and item.is_star):
        names = [
            c
            for c in cat.allowed_columns(table.name)
            if c != person and _role(table, c) not in ("identifier", "join")
        ]
        return [_plain(exp.column(n, table=alias), n, table) for n in names]
    inner = item.this if isinstance(item, exp.Alias) else item
    name = item.alias_or_name.lower()
    if isinstance(inner, exp.Column):
        return [_plain(inner, name, table)]
    if isinstance(inner, exp.Window) and isinstance(item, exp.Alias) and item.alias:
        return [_window(inner, name, table, alias, cat)]
    if inner.find(exp.Window) is not None:
        raise QueryRejected(
            "Select each window alone under a name (LAG(visit_date) OVER (…) AS prev) and "
            "compute with it in the next WITH body or the outer query "
            "(date_diff('day', prev, visit_date) <= 30)."
        )
    raise QueryRejected(_SHAPE)


def _plain(column: exp.Column, name: str, table: TablePolicy) -> tuple[exp.Expr, ColumnPolicy]:
    policy = table.column(str(column.name).lower())
    if policy is None:
        raise QueryRejected(_SHAPE)
    if policy.role in ("identifier", "join") and policy.name != table.person_column:
        raise PolicyViolation(
            f"{policy.name} is an identifier; a window table keeps the person column only."
        )
    return _out(column.copy(), dataclasses.replace(policy, name=name))


def _out(expr: exp.Expr, policy: ColumnPolicy) -> tuple[exp.Expr, ColumnPolicy]:
    if policy.role == "numeric":
        expr = exp.cast(expr, _DOUBLE)
    return exp.alias_(expr, policy.name), policy


def _window(
    window: exp.Window, name: str, table: TablePolicy, alias: str, cat: Catalog
) -> tuple[exp.Expr, ColumnPolicy]:
    person = table.person_column or ""
    func = window.this
    if window.args.get("spec") is not None or window.args.get("alias"):
        raise QueryRejected(_SHAPE)
    partition = window.args.get("partition_by") or []
    if len(partition) != 1 or not _is_column(partition[0], person):
        raise QueryRejected(_SHAPE)
    order = window.args.get("order")
    if order is None:
        raise QueryRejected(_SHAPE)
    for ordered in order.expressions:
        column = ordered.this
        policy = table.column(str(column.name).lower()) if isinstance(column, exp.Column) else None
        if policy is None or policy.role in ("identifier", "join"):
            raise QueryRejected("A window orders the person's rows by columns of the table.")
    order.set("expressions", [*order.expressions, *_tie_breakers(table, alias, cat)])
    if isinstance(func, exp.RowNumber):
        rows = float(cat.dataset.contribution.auto_max_rows)
        return _out(window.copy(), ColumnPolicy(name, "numeric", 1.0, rows))
    if not isinstance(func, (exp.Lag, exp.Lead)) or not isinstance(func.this, exp.Column):
        raise QueryRejected(_SHAPE)
    offset = func.args.get("offset")
    if offset is not None and not (
        isinstance(offset, exp.Literal) and offset.name.isdigit() and 1 <= int(offset.name) <= 100
    ):
        raise QueryRejected("LAG and LEAD take a literal offset from 1 to 100.")
    if func.args.get("default") is not None:
        raise QueryRejected("LAG and LEAD take no default here (the first row gets NULL).")
    _, policy = _plain(func.this, name, table)
    return _out(window.copy(), policy)


def _role(table: TablePolicy, name: str) -> str:
    policy = table.column(name)
    return policy.role if policy is not None else ""


def _is_column(node: exp.Expression, name: str) -> bool:
    return isinstance(node, exp.Column) and str(node.name).lower() == name


def _tie_breakers(table: TablePolicy, alias: str, cat: Catalog) -> list[exp.Ordered]:
    """Every column of the table the project may read, identifiers aside: rows that tie on
    all of them are alike in everything a body can select, so every order of them gives
    the same rows — and no column outside the project's policy decides which is first."""
    names = [c for c, _ in TABLES.get(table.name, ())] or [c.name for c in table.columns]
    kept = [
        n
        for n in names
        if cat.allowed(table.name, n) and _role(table, n) not in ("identifier", "join")
    ]
    return [exp.Ordered(this=exp.column(n, table=alias), nulls_first=True) for n in kept]
