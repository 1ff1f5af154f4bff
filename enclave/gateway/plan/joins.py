"""Join fan-out bounded before it is computed: each person's rows are truncated per table.

A join of two protected tables on the person column multiplies one person's rows (``m``
claims × ``n`` prescriptions), so the work — and the time a query takes — could depend on
one heavy person without limit. When a query joins two or more of the event tables
(every protected table but ``persons``, which holds one row per person: the load keys it
on the person token), each of those ``k`` tables enters the join with at most
``R = ⌊F^(1/k)⌋`` rows per person, chosen by a salted hash of the row (so which rows are
kept depends only on that person's own rows, like every other bound), where
``F = Limits.max_join_rows_per_person``. One person then yields at most ``F`` joined rows
whatever the data; the bound and the truncation are part of the plan, fixed before any
data is read, and the release states them.

>>> fanout_rows(2, 262_144), fanout_rows(3, 262_144), fanout_rows(5, 262_144)
(512, 64, 12)
"""

from __future__ import annotations

import sqlglot
import sqlglot.expressions as exp

from enclave.engines.hashing import portable_hash
from enclave.errors import InternalError
from enclave.gateway.plan.contribution import one_row
from enclave.policy import DatasetPolicy, TablePolicy
from enclave.schema import TABLES

__all__ = ["bound_join_fanout", "fanout_rows"]


def fanout_rows(tables: int, budget: int) -> int:
    """The largest ``R`` with ``R ** tables ≤ budget`` (at least 1)."""
    r = max(1, round(budget ** (1.0 / tables)))
    while r > 1 and r**tables > budget:
        r -= 1
    while (r + 1) ** tables <= budget:
        r += 1
    return r


def _event_tables(relation: exp.Select, ds: DatasetPolicy) -> list[exp.Table]:
    out = []
    for table in relation.find_all(exp.Table):
        policy = ds.table(table.name)
        if policy is not None and policy.protected and not one_row(policy):
            out.append(table)
    return out


def _truncated(table: exp.Table, policy: TablePolicy, rows: int, salt: str) -> exp.Expression:
    person = policy.person_column
    columns = [c for c, _ in TABLES.get(table.name, ())] or [c.name for c in policy.columns]
    order = portable_hash(*columns, f"'{salt}'")
    alias = table.alias_or_name
    inner = sqlglot.parse_one(
        f"SELECT * FROM (SELECT *, row_number() OVER (PARTITION BY {person} ORDER BY "
        f"{order}) AS __rn FROM {table.name}) AS __t WHERE __rn <= {rows}",
        dialect="duckdb",
    )
    if not isinstance(inner, exp.Select):
        raise InternalError("truncation SQL is not a SELECT")
    return inner.subquery(alias)


def bound_join_fanout(relation: exp.Select, ds: DatasetPolicy, salt: str) -> int | None:
    """Truncate each event table of a multi-table join in place; the rows bound R, or None."""
    tables = _event_tables(relation, ds)
    if len(tables) < 2:
        return None
    rows = fanout_rows(len(tables), ds.limits.max_join_rows_per_person)
    for table in tables:
        policy = ds.table(table.name)
        if policy is None or policy.person_column is None:
            continue
        table.replace(_truncated(table, policy, rows, salt))
    return rows
