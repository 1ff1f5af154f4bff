"""What the bounded totals SQL computes for each noised piece of a plan, in order.

>>> from enclave.gateway.values import Aggregate
>>> [s.stat for s in piece_stats((Aggregate("n", "count", None),), {"a0": 1.0})]
['count']
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from enclave.gateway.plan.pieces import SELECTION, plan_pieces
from enclave.gateway.sql.bounded import SqlStat
from enclave.gateway.values import Aggregate

__all__ = ["piece_stats"]


def piece_stats(aggregates: Sequence[Aggregate], split: Mapping[str, float]) -> list[SqlStat]:
    """What the bounded totals SQL computes per piece (``sql.bounded.bounded_sql``)."""
    by_id = {a.id: a for a in aggregates}
    out: list[SqlStat] = []
    for p in plan_pieces(aggregates, split):
        if not p.in_sql:
            continue
        if p.id == SELECTION:
            out.append(SqlStat("distinct", "1"))
            continue
        col = by_id[p.aggregate].sql
        lo_u, hi_u = p.units
        out.append(SqlStat(p.stat, None if p.stat == "count" else col, p.grid, lo_u, hi_u))
    return out
