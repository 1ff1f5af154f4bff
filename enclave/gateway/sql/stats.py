"""What the bounded totals SQL computes for each noised piece of a plan, in order.

First one stat per piece that the SQL computes (``plan_pieces`` order: the totals the
noise stage reads). Then, for each aggregate whose value clamp is still to be chosen
(``plan.clamps``), its value pieces at every other candidate clamp and the histogram bins
the clamp is chosen from (``ClampColumns`` says which stat is which), so one pass gives
the totals at whichever clamp is chosen; ``at_clamps`` keeps the chosen ones.

>>> from enclave.gateway.values import Aggregate
>>> [s.stat for s in piece_stats((Aggregate("n", "count", None),), {"a0": 1.0})]
['count']
>>> agg = Aggregate("m", "avg", "__a0", 0.0, 500.0, clamps=(100.0, 200.0, 500.0))
>>> [(s.stat, s.hi) for s in piece_stats((agg,), {})]
[('sum', 5000000), ('nn', 1), ('sum', 1000000), ('sum', 2000000), ('bin', 5000000), ('bin', 5000000), ('bin', 5000000)]
>>> layout = clamp_columns((agg,), {})[0]
>>> layout.sums, layout.bins
({0: (2, 3, 0)}, (4, 5, 6))
>>> at_clamps([7, 3, 1, 2, 9, 8, 5], {0: 1}, [layout])
[2, 3]
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from enclave.gateway.plan.clamps import at_clamp, clamped
from enclave.gateway.plan.pieces import (
    GROUP_PIECES,
    SELECTION,
    SUM_PIECES,
    VALUE_PIECES,
    Piece,
    pieces,
    plan_pieces,
)
from enclave.gateway.sql.bounded import SqlStat
from enclave.gateway.values import Aggregate

__all__ = ["ClampColumns", "at_clamps", "clamp_columns", "piece_stats"]


def _stat(p: Piece, col: str | None) -> SqlStat:
    lo_u, hi_u = p.units
    group = p.group_units if p.stat in GROUP_PIECES else (0, 0)
    return SqlStat(p.stat, None if p.stat == "count" else col, p.grid, lo_u, hi_u, group=group)


def _piece_stats(aggregates: Sequence[Aggregate], split: Mapping[str, float]) -> list[SqlStat]:
    by_id = {a.id: a for a in aggregates}
    out: list[SqlStat] = []
    for p in plan_pieces(aggregates, split):
        if not p.in_sql:
            continue
        if p.id == SELECTION:
            out.append(SqlStat("distinct", "1"))
            continue
        out.append(_stat(p, by_id[p.aggregate].sql))
    return out


@dataclass(frozen=True)
class ClampColumns:
    """Where one clamped aggregate's extra stats are: per value piece (its index among the
    plain stats) the stat index at each candidate, ascending; and the histogram bins."""

    aggregate: str
    candidates: tuple[float, ...]
    sums: Mapping[int, tuple[int, ...]]
    bins: tuple[int, ...]
    extra: tuple[SqlStat, ...]


def _bins(agg: Aggregate, top: SqlStat) -> list[SqlStat]:
    """Bin i: row values (group-clamped: (person, group) totals) in [c_i, c_i+1) (first
    from −∞, last to +∞)."""
    edges = [round(c / top.grid) for c in agg.clamps]
    lows: list[int | None] = [None, *edges[1:]]
    highs: list[int | None] = [*edges[1:], None]
    stat = {"gsum": "gbin", "ksum": "kbin"}.get(top.stat, "bin")
    return [top._replace(stat=stat, edges=(lo, hi)) for lo, hi in zip(lows, highs, strict=True)]


def clamp_columns(
    aggregates: Sequence[Aggregate], split: Mapping[str, float]
) -> list[ClampColumns]:
    """The extra stats of every clamped aggregate, after the plain stats."""
    return list(_clamp_columns(tuple(aggregates), tuple(sorted(split.items()))))


@functools.lru_cache(maxsize=256)
def _clamp_columns(
    aggregates: tuple[Aggregate, ...], split_items: tuple[tuple[str, float], ...]
) -> tuple[ClampColumns, ...]:
    """``clamp_columns``, built once per plan (every stage of a release asks for it)."""
    split = dict(split_items)
    plain = [p for p in plan_pieces(aggregates, split) if p.in_sql]
    at = len(plain)
    out = []
    for agg in clamped(aggregates):
        extra: list[SqlStat] = []
        sums: dict[int, tuple[int, ...]] = {}
        for index, p in enumerate(plain):
            if p.aggregate != agg.id or p.stat not in VALUE_PIECES:
                continue
            ids = []
            for c in agg.clamps[:-1]:
                (same,) = [q for q in pieces(at_clamp(agg, c)) if q.id == p.id]
                extra.append(_stat(same, agg.sql))
                ids.append(at + len(extra) - 1)
            sums[index] = (*ids, index)
        top = _stat(next(p for p in pieces(agg) if p.stat in SUM_PIECES), agg.sql)
        bins = _bins(agg, top)
        first = at + len(extra)
        extra.extend(bins)
        bin_ids = tuple(range(first, first + len(bins)))
        out.append(ClampColumns(agg.id, agg.clamps, sums, bin_ids, tuple(extra)))
        at += len(extra)
    return tuple(out)


def piece_stats(aggregates: Sequence[Aggregate], split: Mapping[str, float]) -> list[SqlStat]:
    """What the bounded totals SQL computes (``sql.bounded.bounded_sql``), in order."""
    out = _piece_stats(aggregates, split)
    for layout in clamp_columns(aggregates, split):
        out.extend(layout.extra)
    return out


def at_clamps(
    values: Sequence[Any], chosen: Mapping[int, int], layouts: Sequence[ClampColumns]
) -> list[Any]:
    """One group's plain totals with each clamped piece at its chosen candidate
    (``chosen``: layout index → candidate index)."""
    n_plain = len(values) - sum(len(lay.extra) for lay in layouts)
    row = list(values[:n_plain])
    for j, lay in enumerate(layouts):
        for index, ids in lay.sums.items():
            row[index] = values[ids[chosen[j]]]
    return row
