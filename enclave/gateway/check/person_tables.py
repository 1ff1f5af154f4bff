"""Patient-level tables: a WITH body grouped by the person column is one row per person.

``WITH er AS (SELECT person_id, COUNT(*) AS visits, MIN(visit_date) AS first_visit
FROM claims WHERE setting = 'emergency' GROUP BY person_id)`` defines a table with one row
per person, each value a function of that person's own rows only. The outer query uses it
like ``persons``: joined on the person column, filtered, grouped and aggregated with DP.

What a body may hold (anything else is refused):

* ``FROM`` one protected table of the dataset (no joins), an optional row ``WHERE``;
* ``GROUP BY`` the table's person column, which is also selected under its own name;
* every other item aliased and built from per-person aggregates — ``COUNT(*)``,
  ``COUNT(x)``, ``COUNT(DISTINCT x)``, ``SUM``, ``AVG``, ``MIN``, ``MAX`` (numbers or
  dates), ``BOOL_OR``/``BOOL_AND`` (flags, released as 0/1) — and the scalar expressions
  the rest of the gateway allows; an optional ``HAVING`` on those aggregates;
* identifiers only as the person column and inside ``COUNT(DISTINCT …)``.

Every expression is typed like the rest of the query (``rules.total_expressions``), integer
leaves are computed in DOUBLE and every numeric output is a DOUBLE (so nothing outside
can overflow); the plan wraps what could fail in ``TRY``. Each output column gets a role and
bounds for the outer query: numbers ``[lo, hi]`` by interval arithmetic (a count is in
``[0, auto_max_rows]``, a sum in that many times its argument's interval, an average or
extreme in its argument's; the SQL clamps to them wherever a value is aggregated), dates
their column's range. The table itself is a protected table of one row per person, so a
query reading only such tables and ``persons`` needs no rows bound (``plan.contribution``).

>>> import sqlglot
>>> from enclave.gateway.check.catalog import Catalog
>>> cat = Catalog.example()
>>> tree = sqlglot.parse_one(
...     "WITH er AS (SELECT person_id, COUNT(*) AS n FROM claims WHERE setting = 'emergency' "
...     "GROUP BY person_id) SELECT COUNT(*) FROM persons p JOIN er ON er.person_id = p.person_id "
...     "WHERE er.n >= 2")
>>> outer, tables = split_person_tables(tree, cat)
>>> [(c.name, c.role, c.lower, c.upper) for c in tables[0].table.columns]
[('person_id', 'identifier', None, None), ('n', 'numeric', 0.0, 512.0)]
>>> tables[0].body.sql()
"SELECT claims.person_id AS person_id, CAST(COUNT(*) AS DOUBLE) AS n FROM claims AS claims WHERE claims.setting = 'emergency' GROUP BY claims.person_id"
"""

from __future__ import annotations

from sqlglot import exp

from enclave.errors import QueryRejected
from enclave.gateway.check.bodies import open_body
from enclave.gateway.check.catalog import Catalog
from enclave.gateway.check.per_person import person_column, person_condition
from enclave.gateway.check.rules.inline_ctes import inline_filters
from enclave.gateway.check.rules.promote_numbers import promote_numbers
from enclave.gateway.check.window_tables import is_window_table, window_table
from enclave.gateway.values import PersonTable
from enclave.policy import ColumnPolicy, TablePolicy

__all__ = [
    "PersonTable",
    "is_person_table",
    "split_person_tables",
    "with_bodies",
]

_BODY_ARGS = frozenset({"expressions", "from_", "where", "group", "having"})
_SHAPE = (
    "A patient-level WITH body reads one table and groups by its person column: "
    "name AS (SELECT person_id, COUNT(*) AS n, … FROM claims WHERE … GROUP BY person_id "
    "[HAVING …]) — no joins, DISTINCT, ORDER BY, LIMIT, windows or nested WITH."
)


def is_person_table(body: exp.Expression) -> bool:
    """Whether a WITH body is a patient-level table (a SELECT with GROUP BY)."""
    return isinstance(body, exp.Select) and body.args.get("group") is not None


def split_person_tables(
    select: exp.Select, cat: Catalog
) -> tuple[exp.Select, tuple[PersonTable, ...]]:
    """Take the patient-level and window WITH bodies out of ``select`` (in place), checked
    and typed, in order: a body may read a table an earlier one defined, or a filter-only
    body (inlined into it: ``rules.inline_ctes.inline_filters``)."""
    with_ = select.args.get("with_")
    if with_ is None:
        return select, ()
    found: list[PersonTable] = []
    plain: dict[str, exp.Expression] = {}
    for cte in list(with_.expressions):
        name = cte.alias.lower()
        body = inline_filters(cte.this, plain, cat)
        if not isinstance(body, exp.Select) or not (is_person_table(body) or is_window_table(body)):
            cte.set("this", body)
            plain[name] = body
            continue
        make = _person_table if is_person_table(body) else window_table
        if cat.table(name) is not None:
            raise QueryRejected(f"The WITH name {name} is already a table; choose another name.")
        table = make(name, body, cat)
        found.append(table)
        cat = cat.with_tables((table.table,))
        cte.pop()
    if not with_.expressions:
        select.set("with_", None)
    return select, tuple(found)


def with_bodies(select: exp.Select, tables: tuple[PersonTable, ...]) -> exp.Select:
    """A copy of ``select`` with the patient-level bodies back in its WITH clause."""
    out = select.copy()
    for t in tables:
        out = out.with_(t.name, as_=t.body.copy(), copy=False)
    return out


def _person_table(name: str, body: exp.Select, cat: Catalog) -> PersonTable:
    opened = open_body(body, cat, _BODY_ARGS, _SHAPE)
    body, table, alias, typer, person = (
        opened.select, opened.table, opened.alias, opened.typer, opened.person
    )  # fmt: skip
    _check_group(body, alias, person)
    columns = [ColumnPolicy(person, "identifier")]
    items: list[exp.Expr] = [exp.column(person, table=alias).as_(person)]
    for item in body.expressions:
        if _is_person_column(item, alias, person):
            continue
        expr, column = person_column(item, typer, table, cat)
        if column.name in {c.name for c in columns}:  # the engine would read the first
            raise QueryRejected(f"The column {column.name[:64]} is selected twice.")
        items.append(expr)
        columns.append(column)
    body.set("expressions", items)
    having = body.args.get("having")
    if having is not None:
        body.set("having", exp.Having(this=person_condition(having.this, body, typer, table, cat)))
    promote_numbers(body, cat)
    virtual = TablePolicy(
        name, protected=True, person_column=person, columns=tuple(columns), one_row_per_person=True
    )
    return PersonTable(name, body, virtual)


def _check_group(body: exp.Select, alias: str, person: str) -> None:
    keys = [_ordinal(k, body) for k in body.args["group"].expressions]
    body.args["group"].set("expressions", keys)
    if len(keys) != 1 or not _is_person_column(keys[0], alias, person):
        raise QueryRejected(_SHAPE)
    selected = [e for e in body.expressions if _is_person_column(e, alias, person)]
    if len(selected) != 1:
        raise QueryRejected(
            f"Select the person column ({person}) once, under its own name, so the outer "
            "query can join on it."
        )


def _ordinal(key: exp.Expression, body: exp.Select) -> exp.Expression:
    """``GROUP BY 1``: the first selected expression."""
    items = body.expressions
    if isinstance(key, exp.Literal) and key.is_int and 1 <= int(key.name) <= len(items):
        item = items[int(key.name) - 1]
        return (item.this if isinstance(item, exp.Alias) else item).copy()
    return key


def _is_person_column(node: exp.Expression, alias: str, person: str) -> bool:
    inner = node.this if isinstance(node, exp.Alias) else node
    if isinstance(node, exp.Alias) and node.alias.lower() != person:
        return False
    return (
        isinstance(inner, exp.Column)
        and str(inner.name).lower() == person
        and str(inner.table).lower() in ("", alias)
    )
