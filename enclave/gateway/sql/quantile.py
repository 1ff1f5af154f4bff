"""MEDIAN / QUANTILE_CONT, the SQL half: a bounded value histogram per group (released by
``release.quantiles``).

**Grid.** A quantile aggregate's clamped argument lies in ``[lo, hi]``. The candidates
are every integer when ``hi - lo`` is a whole number ≤ 1,000 (e.g. ``los_days``); for a
wide non-negative range (``hi ≥ 1,000``, e.g. amounts or a patient's yearly cost) they are
``lo`` and 1,000 points spaced *geometrically* from ``hi / 10⁶`` to ``hi`` (each about
1.4% above the one before), so a median of 6,000 in ``[0, 10,240,000]`` is found to a
relative precision of about 1.4% instead of an even step of 10,240; otherwise 1,001 evenly
spaced points. Each value becomes a *slot*: ``2i`` when it equals candidate ``i``,
``2i + 1`` when it lies strictly between candidates ``i`` and ``i + 1`` (on the geometric
grid an inner value is always placed between two candidates). OpenDP's quantile score
only counts values below / above each candidate, so scoring the slots (candidates = even
slots) is scoring the values.

**Bounding.** The same as the totals: at most ``g`` groups per person, chosen by the salted
portable hash of (person, key), and at most ``c`` rows in all, given to the groups in that
order. Inside a group the kept rows are taken slot by slot in the order of a salted hash
of (person, key, slot), so which values are kept does not depend on their size. A person
therefore adds at most ``c`` rows to a group's histogram (``d_in = c``, symmetric distance)
and at most ``c`` rows over all groups.

>>> grid(0.0, 60.0).values[:3], grid(0.0, 60.0).size
((0.0, 1.0, 2.0), 61)
>>> g = grid(0.0, 10_240_000.0)
>>> g.kind, g.size, round(g.value(2), 2), g.value(2 * (g.size - 1))
('geometric', 1001, 10.24, 10240000.0)
>>> grid(-5.0, 5.5).kind
'even'
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

from enclave.engines.hashing import portable_hash
from enclave.gateway.values import Aggregate

__all__ = ["MAX_CANDIDATES", "Grid", "grid", "quantile_sql"]

MAX_CANDIDATES = 1001
#: the geometric grid's first point after ``lo``, as a fraction of ``hi``
_FIRST_FRACTION = 1e-6


@dataclass(frozen=True)
class Grid:
    """The candidates of one quantile aggregate and how a value becomes a slot."""

    kind: Literal["even", "geometric"]
    lo: float
    hi: float
    size: int
    step: float  # even: the spacing; geometric: the ratio of one point to the one before

    @property
    def values(self) -> tuple[float, ...]:
        return tuple(self.value(2 * i) for i in range(self.size))

    def value(self, slot: int) -> float:
        """The candidate value of an even slot (odd slots read as the candidate below)."""
        i = slot // 2
        if self.kind == "even":
            return min(self.lo + i * self.step, self.hi)
        if i <= 0:
            return self.lo
        if i >= self.size - 1:
            return self.hi
        return float(self.hi * _FIRST_FRACTION * self.step ** (i - 1))

    def slot(self, x: float) -> int:
        """A value's slot, as ``slot_sql`` computes it (for tests and previews)."""
        if self.kind == "even":
            t = (x - self.lo) / self.step
            return 2 * math.floor(t) + (0 if t == math.floor(t) else 1)
        first = self.hi * _FIRST_FRACTION
        if x <= self.lo:
            return 0
        if x >= self.hi:
            return 2 * (self.size - 1)
        if x < first:
            return 1
        i = 1 + math.floor(math.log(x / first) / math.log(self.step))
        return 2 * min(max(i, 1), self.size - 2) + 1

    def slot_sql(self, col: str) -> str:
        """SQL of a value's slot (``-1`` for NULL)."""
        if self.kind == "even":
            t = f"(({col} - {self.lo!r}) / {self.step!r})"
            return (
                f"CASE WHEN {col} IS NULL THEN -1 ELSE CAST(2 * FLOOR({t}) AS BIGINT) + "
                f"CASE WHEN {t} = FLOOR({t}) THEN 0 ELSE 1 END END"
            )
        first, last = self.hi * _FIRST_FRACTION, 2 * (self.size - 1)
        i = f"1 + FLOOR(LN({col} / {first!r}) / LN({self.step!r}))"
        return (
            f"CASE WHEN {col} IS NULL THEN -1 WHEN {col} <= {self.lo!r} THEN 0 "
            f"WHEN {col} >= {self.hi!r} THEN {last} WHEN {col} < {first!r} THEN 1 "
            f"ELSE 2 * CAST(LEAST(GREATEST({i}, 1), {self.size - 2}) AS BIGINT) + 1 END"
        )

    def describe(self) -> str:
        spacing = "evenly spaced" if self.kind == "even" else "geometrically spaced"
        return f"{self.size} {spacing} in [{self.lo:g}, {self.hi:g}]"


def grid(lo: float, hi: float) -> Grid:
    """The candidate grid for values clamped to [lo, hi]."""
    span = hi - lo
    if span <= 0:
        return Grid("even", lo, lo, 1, 1.0)
    if float(span).is_integer() and float(lo).is_integer() and span < MAX_CANDIDATES:
        return Grid("even", lo, hi, int(span) + 1, 1.0)
    if lo >= 0 and hi >= 1000 and lo < hi * _FIRST_FRACTION:
        ratio = (1 / _FIRST_FRACTION) ** (1 / (MAX_CANDIDATES - 2))
        return Grid("geometric", lo, hi, MAX_CANDIDATES, ratio)
    return Grid("even", lo, hi, MAX_CANDIDATES, span / (MAX_CANDIDATES - 1))


def quantile_sql(
    input_ctes: str, *, n_keys: int, agg: Aggregate, rows: int, groups: int, salt: str
) -> str:
    """Bounded histogram of one quantile argument: rows ``(keys…, slot, count)``.

    ``input_ctes`` is ``"__rel AS (…), __in AS (…)"`` from ``sql.bounded``.
    """
    keys = [f"__k{i}" for i in range(n_keys)]
    kl = "".join(f"{k}, " for k in keys)
    g = grid(agg.lower or 0.0, agg.upper or 0.0)
    group_order = ", ".join([portable_hash("__pid", *keys, f"'{salt}'"), *keys])
    slot_order = portable_hash("__pid", *keys, "__slot", f"'{salt}'")
    by_group = ", ".join(["__pid", *keys])
    return (
        f"WITH {input_ctes}, "
        f"__ps AS (SELECT __pid, {kl}{g.slot_sql(str(agg.sql))} AS __slot, "
        f"count(*) AS __m FROM __in GROUP BY {by_group}, __slot), "
        f"__pg AS (SELECT {by_group}, sum(__m) AS __n FROM __ps GROUP BY {by_group}), "
        f"__pp AS (SELECT __pid, sum(__n) > {rows} OR count(*) > {groups} AS __over "
        f"FROM __pg GROUP BY __pid), "
        f"__ok AS (SELECT {kl}__slot, __m AS __t FROM __ps SEMI JOIN (SELECT __pid FROM __pp "
        f"WHERE NOT __over) AS u USING (__pid)), "
        f"__ov AS (SELECT __ps.* FROM __ps SEMI JOIN (SELECT __pid FROM __pp WHERE __over) "
        f"AS o USING (__pid)), "
        f"__gw AS (SELECT *, dense_rank() OVER (PARTITION BY __pid ORDER BY {group_order}) "
        f"AS __g, sum(__m) OVER (PARTITION BY __pid ORDER BY {group_order}) AS __cum, "
        f"sum(__m) OVER (PARTITION BY {by_group}) AS __n, COALESCE(sum(__m) OVER (PARTITION "
        f"BY {by_group} ORDER BY {slot_order} ROWS BETWEEN UNBOUNDED PRECEDING AND 1 "
        f"PRECEDING), 0) AS __before FROM __ov), "
        f"__tk AS (SELECT {kl}__slot, LEAST(__m, GREATEST(LEAST(__n, GREATEST({rows} - "
        f"(__cum - __n), 0)) - __before, 0)) AS __t FROM __gw WHERE __g <= {groups}) "
        f"SELECT {kl}__slot, CAST(sum(__t) AS BIGINT) AS __cnt FROM (SELECT * FROM __ok "
        f"UNION ALL SELECT * FROM __tk) AS __all WHERE __slot >= 0 GROUP BY {kl}__slot "
        f"HAVING sum(__t) > 0"
    )
