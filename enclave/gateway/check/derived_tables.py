"""Subqueries in FROM and JOIN are WITH bodies written in place.

``SELECT COUNT(*) FROM (SELECT person_id, COUNT(*) AS n FROM claims GROUP BY person_id) t
WHERE t.n >= 2`` means the same as ``WITH t AS (SELECT person_id, COUNT(*) AS n FROM claims
GROUP BY person_id) SELECT COUNT(*) FROM t WHERE t.n >= 2``, so that is what it becomes,
before anything else looks at the query: the body is then checked like any WITH body — a
filter, a patient-level table (``check.person_tables``) or a window table
(``check.window_tables``) — and refused like one. A derived table needs a name (its alias)
that is not a table's or another WITH body's; one nested in another's FROM comes first.

>>> import sqlglot
>>> tree = sqlglot.parse_one("SELECT COUNT(*) FROM persons p JOIN (SELECT person_id, "
...     "COUNT(*) AS n FROM claims GROUP BY person_id) er ON er.person_id = p.person_id")
>>> hoist_derived_tables(tree, Catalog.example()).sql()
'WITH er AS (SELECT person_id, COUNT(*) AS n FROM claims GROUP BY person_id) SELECT COUNT(*) FROM persons AS p JOIN er ON er.person_id = p.person_id'
"""

from __future__ import annotations

from sqlglot import exp

from enclave.errors import QueryRejected
from enclave.gateway.check.catalog import Catalog

__all__ = ["hoist_derived_tables"]

_UNNAMED = (
    "Give a subquery in FROM or JOIN a name: FROM (SELECT person_id, COUNT(*) AS n FROM "
    "claims GROUP BY person_id) AS t — or write it as WITH t AS (…)."
)


def _derived(select: exp.Select) -> list[exp.Subquery]:
    """The subqueries in ``select``'s FROM and JOINs, each after those in its own FROM."""
    nodes = [select.args["from_"].this] if select.args.get("from_") else []
    nodes += [j.this for j in select.args.get("joins") or ()]
    found: list[exp.Subquery] = []
    for node in nodes:
        if isinstance(node, exp.Subquery) and isinstance(node.this, exp.Select):
            found += _derived(node.this)
            found.append(node)
    return found


def hoist_derived_tables(select: exp.Select, cat: Catalog) -> exp.Select:
    """Move each named subquery of FROM / JOIN into the WITH clause (in place)."""
    found = _derived(select)
    if not found:
        return select
    with_ = select.args.get("with_")
    taken = {c.alias.lower() for c in with_.expressions} if with_ is not None else set()
    for sub in found:
        name = sub.alias.lower()
        if not name:
            raise QueryRejected(_UNNAMED)
        if name in taken or cat.table(name) is not None:
            raise QueryRejected(
                f"The subquery name {name[:64]} is already a table or WITH name; choose another."
            )
        if sub.this.args.get("with_") is not None:
            raise QueryRejected("A subquery in FROM may not have its own WITH; move it up.")
        taken.add(name)
        body = sub.this
        sub.replace(exp.to_table(name))
        select = select.with_(name, as_=body, copy=False)
    return select
