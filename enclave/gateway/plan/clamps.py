"""Value clamps chosen privately: the candidates of an aggregate over a ``clamp = "auto"``
column, their ε piece, and the aggregate at a chosen clamp.

A heavy-tailed amount (inpatient claims: median ~36,000, 99th percentile ~700,000) has no
fixed clamp that suits every query: a clamp at the widest plausible value makes the
noise of a sum huge, one at a typical value drops most of the money of the expensive
settings. With ``clamp = "auto"`` on a numeric column the policy's ``upper`` is the widest
bound, and a SUM, AVG, VARIANCE or STDDEV whose argument reads the column clamps its values
at ``U``, one of ``clamp_candidates`` — a 1-2-5 series up to the argument's upper bound —
chosen per query by least expected error (bias of the clamp against the noise at it) from
a DP histogram of the values (``enclave.noise.measure_values``, ``pick_clamp``). The histogram has its own
ε piece, ``a<j>.clamp``: ``CLAMP_SHARE`` of the aggregate's share; the bounded SQL
computes the totals at every candidate and the histogram in the same pass
(``sql.stats.piece_stats``), so the data are read once. A SUM or AVG outside a
one-row-per-person table clamps each kept (person, group)'s total instead
(``group_clamped``): then the candidates bound that total, and the histogram counts kept
(person, group)s by it; VARIANCE and STDDEV keep the row clamp.

>>> clamp_candidates(0.0, 5_000_000.0)[:3], clamp_candidates(0.0, 5_000_000.0)[-2:]
((50.0, 100.0, 200.0), (2000000.0, 5000000.0))
>>> clamp_candidates(0.0, 300.0)
(0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0, 5.0, 10.0, 20.0, 50.0, 100.0, 200.0, 300.0)
>>> clamp_candidates(1.0, 100.0)  # above a lower bound of 1: 2 and 5 too
(2.0, 5.0, 10.0, 20.0, 50.0, 100.0)
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence

from enclave.gateway.values import Aggregate

__all__ = [
    "CLAMPABLE",
    "CLAMP_SHARE",
    "MAX_CANDIDATES",
    "at_clamp",
    "clamp_candidates",
    "clamp_id",
    "clamped",
    "group_clamped",
    "row_clamped",
]

#: share of a clamped aggregate's ε spent on the histogram its clamp is chosen from
CLAMP_SHARE = 0.2
#: the most candidates one clamp is chosen among (a 1-2-5 series: ~5 decades)
MAX_CANDIDATES = 16
#: aggregates whose values are clamped (quantiles need no clamp: their grid spans the range)
CLAMPABLE = ("sum", "avg", "variance", "stddev")


def clamp_candidates(lower: float, upper: float) -> tuple[float, ...]:
    """The 1-2-5 values in ``(max(lower, 0), upper)`` and ``upper`` itself, ascending: the
    largest ``MAX_CANDIDATES`` of them (a data-independent grid)."""
    floor = max(lower, 0.0)
    if not upper > floor:
        return (upper,)
    out = [upper]
    exponent = math.floor(math.log10(upper))
    while len(out) < MAX_CANDIDATES:
        for mantissa in (5, 2, 1):
            value = float(f"{mantissa}e{exponent}")
            if floor < value < out[-1] and len(out) < MAX_CANDIDATES:
                out.append(value)
        exponent -= 1
        if 5 * 10.0**exponent <= floor or exponent < -12:
            break
    return tuple(sorted(out))


def clamp_id(aggregate: Aggregate) -> str:
    """The ε piece of an aggregate's clamp choice (position-based, like every piece)."""
    return f"{aggregate.id}.clamp"


def clamped(aggregates: Sequence[Aggregate]) -> list[Aggregate]:
    """The aggregates whose clamp is still to be chosen."""
    return [a for a in aggregates if a.clamps]


def row_clamped(aggregates: Sequence[Aggregate]) -> list[Aggregate]:
    """The aggregates whose clamp, still to be chosen, applies to each row."""
    return [a for a in clamped(aggregates) if a.group_upper is None]


def group_clamped(aggregates: Sequence[Aggregate], max_rows: int) -> list[Aggregate]:
    """The aggregates with each auto-clamped SUM, and every AVG, clamping (person, group)
    totals instead of (or, for a researcher's fixed bound, on top of) each row.

    A person's money in a group is the sum of all their rows there, so the clamp that
    matters is on that total: a person of many cheap claims keeps them all, one dear
    claim is cut once, and the sensitivity is ``min(g, c)·T`` — no rows bound enters it.
    An AVG clamps the total of the rows its count keeps (``w`` of ``n``), so the two see
    the same rows; its count keeps sensitivity ``c``. The candidates ``T`` run up to
    ``max_rows`` times a row's widest bound (the policy's ``auto_max_rows``:
    data-independent), the rows keep their own bounds.

    >>> agg = Aggregate("s", "sum", "__a0", 0.0, 5_000_000.0, clamps=(1.0, 5_000_000.0))
    >>> g = group_clamped([agg], 512)[0]
    >>> g.group_upper, g.clamps[-2:], len(g.clamps)
    (2560000000.0, (2000000000.0, 2560000000.0), 16)
    """
    out = []
    for a in aggregates:
        if ((a.kind == "sum" and a.clamps) or a.kind == "avg") and a.upper is not None:
            top = max(abs(a.lower or 0.0), abs(a.upper)) * max_rows
            out.append(dataclasses.replace(a, clamps=clamp_candidates(0.0, top), group_upper=top))
        else:
            out.append(a)
    return out


def at_clamp(aggregate: Aggregate, upper: float) -> Aggregate:
    """The aggregate with its values (or, group-clamped, its (person, group) totals)
    clamped at ``upper``: a fixed bound from now on."""
    if aggregate.group_upper is not None:
        return dataclasses.replace(aggregate, group_upper=upper, clamps=())
    return dataclasses.replace(aggregate, upper=upper, clamps=())
