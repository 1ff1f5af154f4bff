"""The noised pieces of a query: their identities, ε shares, integer units and sensitivities.

Composition: pure ε-DP with basic sequential composition — the ε of the pieces of one
query add up to the query's ε, and queries add up in the ledger; δ (only spent by the
noisy threshold that releases private keys) adds the same way.

**Identities.** A piece is named by its position in the plan, never by a name the
researcher chose: ``rows_bound`` (the noisy histogram an "auto" rows bound is chosen from),
``key_selection`` (the noisy threshold of private keys) and ``a<j>`` / ``a<j>.<part>`` for
aggregate ``j``. Output aliases are labels only, so no alias can collide with a piece.

**Split rule.** With an "auto" rows bound, ``auto_epsilon_share`` of ε goes to the noisy
histogram it is chosen from. The rest is shared equally by the aggregates, plus one share
for key selection when keys are private (always its own draw: the released counts are then
independent of the selection, so their intervals keep their coverage). Inside an
aggregate the share is split equally: AVG = noisy sum / noisy count (½ + ½);
VARIANCE/STDDEV from noisy count, sum and sum of squares (⅓ each); MEDIAN/QUANTILE_CONT:
the DP quantile ½, and ⅙ each for the noisy row count and the two DP quantiles that bound
its 95% interval.

**Exact integer totals.** Every noised total is an integer, computed exactly (no float
accumulation whose rounding depends on other people's values): a clamped value is
rounded to its piece's ``grid`` (``10^(⌊log10 m⌋ − 6)`` for bound ``m``, so at most ~10⁷
units a row; 1 for indicator counts), a (person, group)'s sum of units ``S`` over its
``n`` rows gives ``t = round(S·K / n)`` clamped to ``[lo_u·K, hi_u·K]`` with
``K = SHARE_UNITS``, and each kept share ``w`` rows adds ``w·t``. So a person moves a
piece's totals by at most ``c·M`` units (``M = max(|lo_u|, |hi_u|)·K``) whatever the
data, and the discrete Laplace mechanism on integers is exact.

Sensitivities (L1, one person added or removed) with ``c`` rows and ``g`` groups per
person: COUNT(*) → c; unit sums (COUNT(x), SUM, sum of squares) → c·M;
COUNT(DISTINCT person) and key selection → min(g, c); a quantile → d_in = c rows.
A SUM over a ``clamp = "auto"`` column (``gsum``, ``plan.clamps.group_clamped``) clamps
each kept (person, group)'s total of *all* its rows to ``[−T, T]`` (``[0, T]`` for values
≥ 0) instead of each row, and adds it once (units × K); an AVG's sum (``ksum``) clamps
each kept (person, group)'s share ``w·t`` (the rows its count sees) the same way: a person
keeps at most ``min(g, c)`` groups, so → ``min(g, c)·T_u·K``.

>>> [p.id for p in pieces(Aggregate("m", "avg", "__a0", 0.0, 10.0, id="a0"))]
['a0.sum', 'a0.count']
>>> p = pieces(Aggregate("m", "avg", "__a0", 0.0, 10.0, id="a0"))[0]
>>> p.grid, p.units, sensitivity(p, rows=5, groups=2)
(1e-05, (0, 1000000), 320000000.0)
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

from enclave.errors import InternalError
from enclave.gateway.values import Aggregate

__all__ = [
    "AUTO",
    "COMPOSITION",
    "GROUP_PIECES",
    "QUANTILE_STATS",
    "SELECTION",
    "SHARE_UNITS",
    "SUM_PIECES",
    "VALUE_PIECES",
    "Piece",
    "exact_values",
    "grid_for",
    "pieces",
    "plan_pieces",
    "selection_piece",
    "sensitivity",
]

COMPOSITION = (
    "pure ε-DP (discrete Laplace on exact integer totals / exponential-mechanism quantile) "
    "with basic sequential composition: ε and δ of the pieces and of successive queries add "
    "up; δ is spent only by noisy thresholding of private keys"
)
AUTO = "rows_bound"
SELECTION = "key_selection"
#: K: a (person, group)'s share of a unit sum is kept to 1/K of a unit.
SHARE_UNITS = 64

Stat = Literal[
    "count",
    "count_x",
    "nn",
    "distinct",
    "sum",
    "gsum",
    "ksum",
    "sum_sq",
    "quantile",
    "quantile_count",
]
#: Pieces computed from the per-group value histogram, not from the bounded totals SQL.
QUANTILE_STATS = ("quantile", "quantile_count")
#: Pieces whose totals are sums of per-row units (shares w·t, see the module doc).
UNIT_STATS = ("count_x", "nn", "sum", "gsum", "ksum", "sum_sq")
#: pieces of a (person, group)'s total clamped at its bound (``plan.clamps.group_clamped``)
GROUP_PIECES = ("gsum", "ksum")
#: the sum piece of a SUM or AVG, however it is clamped (per row or per (person, group))
SUM_PIECES = ("sum", *GROUP_PIECES)
#: pieces whose rows carry values (sums, sums of squares), not 0/1 counts
VALUE_PIECES = (*SUM_PIECES, "sum_sq")


def grid_for(stat: str, lower: float, upper: float) -> float:
    """The rounding grid of a unit piece: 1 for 0/1 indicators, else ~10⁻⁶ of its bound.

    >>> grid_for("sum", 0.0, 20000.0), grid_for("sum", -1.0, 0.5), grid_for("count_x", 0, 1)
    (0.01, 1e-06, 1.0)
    """
    if stat in ("count_x", "nn"):
        return 1.0
    m = max(abs(lower), abs(upper))
    if m == 0 or not math.isfinite(m):
        return 1.0
    grid = float(10.0 ** (math.floor(math.log10(m)) - 6))
    if not grid > 0:  # bounds this small are refused when planned (``check.intervals``)
        raise InternalError("a rounding grid underflowed to zero")
    return grid


@dataclass(frozen=True)
class Piece:
    """One noised quantity: its identity, the aggregate it belongs to, its bounds."""

    id: str  # key in Plan.epsilon_split: position-based, never a researcher's name
    aggregate: str  # id of the aggregate it belongs to (or the id itself)
    stat: Stat
    lower: float = 0.0
    upper: float = 1.0
    weight: int = 1  # relative ε share inside its aggregate
    label: str = ""  # what the researcher called it (alias and part), for display only
    #: ``gsum``: each row's bounds (``lower``/``upper`` bound a kept (person, group)'s
    #: total); the grid is the rows'
    row_bounds: tuple[float, float] | None = None

    @property
    def discrete(self) -> bool:
        """Every Laplace-noised total is an exact integer (discrete Laplace)."""
        return self.stat not in ("quantile",)

    @property
    def in_sql(self) -> bool:
        """Whether the bounded totals SQL computes this piece (quantiles use a histogram)."""
        return self.stat not in QUANTILE_STATS

    @property
    def grid(self) -> float:
        if self.stat not in UNIT_STATS:
            return 1.0
        lo, hi = self.row_bounds or (self.lower, self.upper)
        return grid_for(self.stat, lo, hi)

    @property
    def units(self) -> tuple[int, int]:
        """Integer bounds of one row's rounded value, in grid units."""
        if self.stat not in UNIT_STATS:
            return (0, 1)
        g = self.grid
        lo, hi = self.row_bounds or (self.lower, self.upper)
        return math.floor(lo / g), math.ceil(hi / g)

    @property
    def group_units(self) -> tuple[int, int]:
        """``gsum``: integer bounds of a kept (person, group)'s total, in grid units."""
        g = self.grid
        return math.floor(self.lower / g), math.ceil(self.upper / g)

    @property
    def unit_value(self) -> float:
        """What one unit of the piece's integer total is worth in the released value."""
        return self.grid / SHARE_UNITS if self.stat in UNIT_STATS else 1.0


def pieces(agg: Aggregate) -> tuple[Piece, ...]:
    """The noised pieces an aggregate is computed from."""
    lo = min(0.0, agg.lower if agg.lower is not None else 0.0)
    hi = max(0.0, agg.upper if agg.upper is not None else 1.0)
    a, name = agg.id, agg.alias
    if agg.kind == "count":
        return (Piece(a, a, "count" if agg.sql is None else "count_x", label=name),)
    if agg.kind == "count_distinct":
        return (Piece(a, a, "distinct", label=name),)
    if agg.kind == "sum" and agg.group_upper is not None:
        top = agg.group_upper
        return (Piece(a, a, "gsum", -top if lo < 0 else 0.0, top, label=name, row_bounds=(lo, hi)),)
    if agg.kind == "sum":
        return (Piece(a, a, "sum", lo, hi, label=name),)
    if agg.kind == "avg" and agg.group_upper is not None:
        top, bounds = agg.group_upper, (lo, hi)
        return (
            Piece(f"{a}.sum", a, "ksum", -top if lo < 0 else 0.0, top, 1, f"{name} (sum)", bounds),
            Piece(f"{a}.count", a, "nn", label=f"{name} (count)"),
        )
    if agg.kind == "avg":
        return (
            Piece(f"{a}.sum", a, "sum", lo, hi, label=f"{name} (sum)"),
            Piece(f"{a}.count", a, "nn", label=f"{name} (count)"),
        )
    if agg.kind in ("variance", "stddev"):
        sq_hi = max(lo * lo, hi * hi)
        sq_lo = 0.0 if lo <= 0 <= hi else min(lo * lo, hi * hi)
        return (
            Piece(f"{a}.count", a, "nn", label=f"{name} (count)"),
            Piece(f"{a}.sum", a, "sum", lo, hi, label=f"{name} (sum)"),
            Piece(f"{a}.sum_sq", a, "sum_sq", sq_lo, sq_hi, label=f"{name} (sum of squares)"),
        )
    if agg.kind == "quantile":
        qlo, qhi = agg.lower or 0.0, agg.upper or 0.0
        return (
            Piece(a, a, "quantile", qlo, qhi, weight=3, label=name),
            Piece(f"{a}.count", a, "quantile_count", label=f"{name} (count)"),
            Piece(f"{a}.ci_low", a, "quantile", qlo, qhi, label=f"{name} (interval low)"),
            Piece(f"{a}.ci_high", a, "quantile", qlo, qhi, label=f"{name} (interval high)"),
        )
    raise ValueError(agg.kind)


def selection_piece() -> Piece:
    """The noisy count of persons per private key that the threshold releases keys on."""
    return Piece(SELECTION, SELECTION, "distinct", label="key selection")


def sensitivity(piece: Piece, *, rows: int, groups: int) -> float:
    """L1 sensitivity of the piece's vector of per-group totals (in its integer units).

    For a quantile it is ``d_in``: the rows of symmetric distance one person can make in a
    group (``c``); OpenDP's map is linear in it, so across the person's groups (at most
    ``c`` rows in all) the ε of the per-group releases adds up to at most the piece's ε.
    """
    if piece.stat == "distinct":
        return float(min(groups, rows))
    if piece.stat in ("count", "quantile", "quantile_count"):
        return float(rows)
    if piece.stat in GROUP_PIECES:  # at most min(g, c) kept groups, each within its bound
        lo_u, hi_u = piece.group_units
        return float(min(groups, rows)) * max(abs(lo_u), abs(hi_u)) * SHARE_UNITS
    lo_u, hi_u = piece.units
    return float(rows) * max(abs(lo_u), abs(hi_u)) * SHARE_UNITS


def plan_pieces(aggregates: Sequence[Aggregate], split: Mapping[str, float]) -> list[Piece]:
    """Every piece of every aggregate, plus the key-selection count when planned."""
    out = [p for a in aggregates for p in pieces(a)]
    if SELECTION in split:
        out.append(selection_piece())
    return out


def exact_values(
    aggregates: Sequence[Aggregate], split: Mapping[str, float], totals: Sequence[object]
) -> list[float]:
    """The bounded SQL's integer totals (one per SQL piece) in the released units.

    >>> from enclave.gateway.values import Aggregate
    >>> exact_values((Aggregate("s", "sum", "__a0", 0.0, 500.0, id="a0"),), {"a0": 1.0}, [64])
    [0.0001]
    """
    sql_pieces = [p for p in plan_pieces(aggregates, split) if p.in_sql]
    return [
        float(int(t or 0)) * p.unit_value  # type: ignore[call-overload]
        for p, t in zip(sql_pieces, totals, strict=True)
    ]
