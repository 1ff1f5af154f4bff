"""MEDIAN / QUANTILE_CONT: a bounded value histogram per group, then OpenDP quantiles.

**Grid.** A quantile aggregate's clamped argument lies in ``[lo, hi]``; the candidates are
evenly spaced in it: every integer when ``hi - lo`` is a whole number ≤ 1,000 (e.g.
``los_days``), else 1,001 points. Each value becomes a *slot*: ``2i`` when it equals
candidate ``i``, ``2i + 1`` when it lies strictly between candidates ``i`` and ``i + 1``.
OpenDP's quantile score only counts values below / above each candidate, so scoring the
slots (candidates = even slots) is scoring the values.

**Bounding.** The same as the totals: at most ``g`` groups per person, chosen by the salted
portable hash of (person, key), and at most ``c`` rows in all, given to the groups in that
order. Inside a group the kept rows are taken slot by slot in the order of a salted hash
of (person, key, slot), so which values are kept does not depend on their size. A person
therefore adds at most ``c`` rows to a group's histogram (``d_in = c``, symmetric distance)
and at most ``c`` rows over all groups.

**Release** (``release_quantiles``): per group, the noisy row count ``ñ`` (discrete Laplace,
sensitivity ``c``), the DP ``q``-quantile (the estimate), and two more DP quantiles at
``q ∓ R/ñ₋`` where ``ñ₋`` is ``ñ`` minus its one-sided error bound and ``R`` the rank error
the mechanism exceeds with probability ≤ β (``enclave.noise.rank_error``). β = 0.05/3 for
each of the three, so by a union bound the interval covers the bounded exact quantile with
probability ≥ 95%, up to the grid (see docs/privacy-model.md). ``_se`` is the interval's
half-width / 1.96 (conservative, not the sd of a known distribution).

>>> grid(0.0, 60.0)
(0.0, 1.0, 61)
>>> grid(0.0, 20000.0)
(0.0, 20.0, 1001)
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, NamedTuple

import numpy as np

from enclave.engines._spark_sql import portable_hash
from enclave.gateway._types import Aggregate, Plan
from enclave.noise import (
    ALPHA,
    Z95,
    Record,
    half_width,
    laplace_int,
    private_quantile,
    quantile_scale,
    rank_error,
)

__all__ = ["Exact", "grid", "quantile_sql", "release_quantiles"]

MAX_CANDIDATES = 1001
BETA = ALPHA / 3  # each of: the noisy count, the lower and the upper quantile
Key = tuple[Any, ...]


class Exact(NamedTuple):
    """What ``execute`` read: bounded totals, and per quantile aggregate its histogram."""

    columns: tuple[str, ...]
    rows: list[tuple[Any, ...]]
    histograms: Mapping[str, list[tuple[Any, ...]]] = {}


def grid(lo: float, hi: float) -> tuple[float, float, int]:
    """(first candidate, step, number of candidates) for values clamped to [lo, hi]."""
    span = hi - lo
    if span <= 0:
        return lo, 1.0, 1
    if float(span).is_integer() and float(lo).is_integer() and span < MAX_CANDIDATES:
        return lo, 1.0, int(span) + 1
    return lo, span / (MAX_CANDIDATES - 1), MAX_CANDIDATES


def _slot(col: str, lo: float, step: float) -> str:
    t = f"(({col} - {lo!r}) / {step!r})"
    return (
        f"CASE WHEN {col} IS NULL THEN -1 ELSE CAST(2 * FLOOR({t}) AS BIGINT) + "
        f"CASE WHEN {t} = FLOOR({t}) THEN 0 ELSE 1 END END"
    )


def quantile_sql(
    input_ctes: str, *, n_keys: int, agg: Aggregate, rows: int, groups: int, salt: str
) -> str:
    """Bounded histogram of one quantile argument: rows ``(keys…, slot, count)``.

    ``input_ctes`` is ``"__rel AS (…), __in AS (…)"`` from ``_back_sql``.
    """
    keys = [f"__k{i}" for i in range(n_keys)]
    kl = "".join(f"{k}, " for k in keys)
    lo, step, _ = grid(agg.lower or 0.0, agg.upper or 0.0)
    group_order = ", ".join([portable_hash("__pid", *keys, f"'{salt}'"), *keys])
    slot_order = portable_hash("__pid", *keys, "__slot", f"'{salt}'")
    by_group = ", ".join(["__pid", *keys])
    return (
        f"WITH {input_ctes}, "
        f"__ps AS (SELECT __pid, {kl}{_slot(str(agg.sql), lo, step)} AS __slot, "
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


def _shifted(q: float, sign: int, n_lo: float, eps: float, k: int, rows: int) -> float | None:
    """The level ``q ∓ R/ñ₋`` whose own rank error R still fits, or None (use the clamp)."""
    if n_lo <= 0:
        return None
    level = q
    for _ in range(50):
        approx = 2.0 * rows * max(level, 1.0 - level) / eps * 1.001  # ≥ OpenDP's scale
        need = rank_error(approx, k, BETA) / n_lo
        if abs(level - q) >= need:
            return level
        level = q + sign * need * 1.01  # overshoot a little: the fixed point is approached
        if not 0.0 < level < 1.0:
            return None
    return None


def release_quantiles(
    agg: Aggregate,
    plan: Plan,
    histogram: Sequence[tuple[Any, ...]],
    domain: Sequence[Key],
    rows: int,
    recorder: Callable[[str], Record],
    check: Callable[[], None] = lambda: None,
) -> tuple[dict[Key, tuple[float, float, float, float]], dict[str, Any]]:
    """Estimate, se, 95% CI per key of ``domain``, and the mechanisms' description."""
    nk = len(plan.keys)
    lo, step, k = grid(agg.lower or 0.0, agg.upper or 0.0)
    cands = list(range(0, 2 * k, 2))
    by_key: dict[Key, tuple[list[int], list[int]]] = {}
    for row in histogram:
        slots, counts = by_key.setdefault(tuple(row[:nk]), ([], []))
        slots.append(int(row[nk]))
        counts.append(int(row[nk + 1]))
    split, a = plan.epsilon_split, agg.id
    q = float(agg.quantile or 0.5)
    totals = [sum(by_key.get(key, ([], []))[1]) for key in domain]
    noisy_n, n_scale = laplace_int(
        totals, sensitivity=rows, epsilon=split[f"{a}.count"], record=recorder(f"{a}.count")
    )
    n_slack = half_width(n_scale, discrete=True, alpha=2 * BETA)
    est_scale = quantile_scale(cands, q, split[a], rows)

    def value(slot: int) -> float:
        return min(lo + (slot // 2) * step, agg.upper or lo)

    out: dict[Key, tuple[float, float, float, float]] = {}
    for key, n_tilde in zip(domain, noisy_n, strict=True):
        check()  # the request's deadline: per-group quantiles run in Python
        slots, counts = by_key.get(key, ([], []))
        data = np.repeat(np.asarray(slots, dtype=np.int64), np.asarray(counts, dtype=np.int64))
        est = value(
            private_quantile(
                data, candidates=cands, alpha=q, scale=est_scale, d_in=rows, record=recorder(a)
            )
        )
        ends = []
        for sign, piece, clamp in ((-1, "ci_low", lo), (1, "ci_high", agg.upper or lo)):
            eps = split[f"{a}.{piece}"]
            level = _shifted(q, sign, n_tilde - n_slack, eps, k, rows)
            if level is None:
                ends.append(clamp)
                continue
            scale = quantile_scale(cands, level, eps, rows)
            got = private_quantile(
                data,
                candidates=cands,
                alpha=level,
                scale=scale,
                d_in=rows,
                record=recorder(f"{a}.{piece}"),
            )
            ends.append(value(got))
        low, high = min(ends[0], est), max(ends[1], est)
        out[key] = (est, (high - low) / 2 / Z95, low, high)
    mech = {
        "mechanism": "private_quantile (OpenDP make_private_quantile), per group",
        "label": agg.alias,
        "quantile": q,
        "candidates": f"{k} evenly spaced in [{lo:g}, {agg.upper or lo:g}]",
        "d_in": rows,
        "scale": est_scale,
        "epsilon": split[a],
        "interval": "DP quantiles at q ∓ rank error / (noisy count lower bound); union bound",
        "count_scale": n_scale,
    }
    return out, mech
