"""The noised pieces of a plan, in the order the bounded SQL returns them.

>>> from enclave.gateway._types import Aggregate
>>> [p.id for p in plan_pieces((Aggregate("n", "count", None),), {"a0": 1.0})]
['a0']
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from enclave.gateway._back_budget import SELECTION, Piece, pieces, selection_piece
from enclave.gateway._back_sql import SqlStat
from enclave.gateway._types import Aggregate

__all__ = ["exact_values", "piece_stats", "plan_pieces"]


def plan_pieces(aggregates: Sequence[Aggregate], split: Mapping[str, float]) -> list[Piece]:
    """Every piece of every aggregate, plus the key-selection count when planned."""
    out = [p for a in aggregates for p in pieces(a)]
    if SELECTION in split:
        out.append(selection_piece())
    return out


def piece_stats(aggregates: Sequence[Aggregate], split: Mapping[str, float]) -> list[SqlStat]:
    """What the bounded totals SQL computes per piece (``_back_sql.bounded_sql``)."""
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


def exact_values(
    aggregates: Sequence[Aggregate], split: Mapping[str, float], totals: Sequence[object]
) -> list[float]:
    """The bounded SQL's integer totals (one per SQL piece) in the released units.

    >>> from enclave.gateway._types import Aggregate
    >>> exact_values((Aggregate("s", "sum", "__a0", 0.0, 500.0, id="a0"),), {"a0": 1.0}, [64])
    [0.0001]
    """
    sql_pieces = [p for p in plan_pieces(aggregates, split) if p.in_sql]
    return [
        float(int(t or 0)) * p.unit_value  # type: ignore[call-overload]
        for p, t in zip(sql_pieces, totals, strict=True)
    ]
