"""Column roles: identifiers only join or are counted; join columns only join.

* role ``identifier`` (person_id, claim_id): only in a person-column join equality, as
  ``COUNT(DISTINCT <person column>)``, or in a presence test ``t.person_id IS [NOT] NULL``
  (whether a LEFT-joined table has a row); never selected, grouped, compared or
  aggregated otherwise;
* role ``join`` (provider_id): only in an equality that joins a public table;
* every other role (key, code, date, numeric) may be filtered and grouped; what may be
  aggregated is checked by ``bounded_aggregates``.

>>> import sqlglot
>>> from enclave.gateway.check.catalog import Catalog
>>> sql = "SELECT c.person_id, COUNT(*) FROM claims c GROUP BY c.person_id"
>>> deny_identifier_grouping(sqlglot.parse_one(sql), Catalog.example())  # doctest: +ELLIPSIS
Traceback (most recent call last):
...
enclave.errors.PolicyViolation: Column claims.person_id identifies people or records: ...
"""

from __future__ import annotations

from sqlglot import exp

from enclave.errors import PolicyViolation
from enclave.gateway.check.catalog import Catalog
from enclave.gateway.check.names import sources
from enclave.gateway.check.rules.person_join_only import join_equalities

__all__ = ["deny_identifier_grouping"]


def _counted_distinct(column: exp.Column, person_column: str | None) -> bool:
    parent = column.parent
    return (
        column.name == person_column
        and isinstance(parent, exp.Distinct)
        and len(parent.expressions) == 1
        and isinstance(parent.parent, exp.Count)
    )


def _presence(column: exp.Column, person_column: str | None) -> bool:
    """``t.person_id IS [NOT] NULL``: whether a (LEFT-joined) table has a row for the
    person, never which person."""
    parent = column.parent
    return (
        column.name == person_column
        and isinstance(parent, exp.Is)
        and parent.this is column
        and isinstance(parent.expression, exp.Null)
    )


def deny_identifier_grouping(select: exp.Select, cat: Catalog) -> exp.Select:
    """Refuse identifier and join columns outside the positions listed above."""
    tables = {a: s.table for a, s in sources(select, {}).items()}
    person, public = join_equalities(select, cat)
    for column in select.find_all(exp.Column):
        table = tables.get(str(column.table))
        policy = cat.column(table or "", str(column.name))
        if table is None or policy is None:
            continue
        tp = cat.table(table)
        person_col = tp.person_column if tp is not None else None
        if policy.role == "identifier":
            if (
                id(column) in person
                or _counted_distinct(column, person_col)
                or _presence(column, person_col)
            ):
                continue
            hint = f"COUNT(DISTINCT {column.table}.{person_col})" if person_col else "COUNT(*)"
            raise PolicyViolation(
                f"Column {table}.{policy.name} identifies people or records: it may only join "
                f"protected tables (ON a.{person_col} = b.{person_col}) or be counted as "
                f"{hint} (and a LEFT-joined table's {person_col} tested with IS [NOT] NULL); "
                "it can't be selected, grouped, filtered or aggregated otherwise."
            )
        if policy.role == "join" and id(column) not in public:
            raise PolicyViolation(
                f"Column {table}.{policy.name} may only be used to join a public table "
                f"(e.g. JOIN providers pr ON {column.table}.{policy.name} = pr.{policy.name}); "
                "group by the public table's columns instead."
            )
    return select
