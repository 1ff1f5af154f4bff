"""MEDIAN / QUANTILE_CONT, the release half: OpenDP quantiles on each group's histogram.

Per group: the noisy row count ``ñ`` (discrete Laplace, sensitivity ``c``), the DP
``q``-quantile (the estimate), and two more DP quantiles at ``q ∓ R/ñ₋`` where ``ñ₋`` is
``ñ`` minus its one-sided error bound and ``R`` the rank error the mechanism exceeds with
probability ≤ β (``enclave.noise.rank_error``). β = 0.05/3 for each of the three, so by a
union bound the interval covers the bounded exact quantile with probability ≥ 95%, up to
the grid (see docs/privacy-model.md and ``sql.quantile`` for the histogram). ``_se`` is the
interval's half-width / 1.96 (conservative, not the sd of a known distribution).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from enclave.gateway.plan.accounting import pure_split
from enclave.gateway.sql.quantile import Grid, grid
from enclave.gateway.values import Aggregate, Plan
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

__all__ = ["release_quantiles"]

BETA = ALPHA / 3  # each of: the noisy count, the lower and the upper quantile
Key = tuple[Any, ...]


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


@dataclass(frozen=True)
class _Grid:
    """The candidates of one quantile aggregate (even slots) and how a slot reads back."""

    agg: Aggregate
    rows: int

    @property
    def shape(self) -> Grid:
        return grid(self.agg.lower or 0.0, self.agg.upper or 0.0)

    @property
    def candidates(self) -> list[int]:
        return list(range(0, 2 * self.shape.size, 2))

    def value(self, slot: int) -> float:
        return self.shape.value(slot)


def _by_key(
    histogram: Sequence[tuple[Any, ...]], nk: int
) -> dict[Key, tuple[list[int], list[int]]]:
    out: dict[Key, tuple[list[int], list[int]]] = {}
    for row in histogram:
        slots, counts = out.setdefault(tuple(row[:nk]), ([], []))
        slots.append(int(row[nk]))
        counts.append(int(row[nk + 1]))
    return out


def _interval_end(
    g: _Grid, data: np.ndarray, sign: int, n_lower: float, split: Any, recorder: Any
) -> float:
    """One end of the 95% interval: a DP quantile at q ∓ R/ñ₋, or the clamp."""
    a, q, piece = g.agg.id, float(g.agg.quantile or 0.5), "ci_low" if sign < 0 else "ci_high"
    eps = split[f"{a}.{piece}"]
    level = _shifted(q, sign, n_lower, eps, g.shape.size, g.rows)
    if level is None:
        return g.shape.lo if sign < 0 else g.shape.hi
    scale = quantile_scale(g.candidates, level, eps, g.rows)
    got = private_quantile(
        data,
        candidates=g.candidates,
        alpha=level,
        scale=scale,
        d_in=g.rows,
        record=recorder(f"{a}.{piece}"),
    )
    return g.value(got)


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
    g, split, a = _Grid(agg, rows), pure_split(plan), agg.id  # ε each piece runs at
    q = float(agg.quantile or 0.5)
    by_key = _by_key(histogram, len(plan.keys))
    totals = [sum(by_key.get(key, ([], []))[1]) for key in domain]
    noisy_n, n_scale = laplace_int(
        totals, sensitivity=rows, epsilon=split[f"{a}.count"], record=recorder(f"{a}.count")
    )
    n_slack = half_width(n_scale, discrete=True, alpha=2 * BETA)
    est_scale = quantile_scale(g.candidates, q, split[a], rows)
    out: dict[Key, tuple[float, float, float, float]] = {}
    for key, n_tilde in zip(domain, noisy_n, strict=True):
        check()  # the request's deadline: per-group quantiles run in Python
        slots, counts = by_key.get(key, ([], []))
        data = np.repeat(np.asarray(slots, dtype=np.int64), np.asarray(counts, dtype=np.int64))
        got = private_quantile(
            data, candidates=g.candidates, alpha=q, scale=est_scale, d_in=rows, record=recorder(a)
        )
        est = g.value(got)
        ends = [
            _interval_end(g, data, sign, n_tilde - n_slack, split, recorder) for sign in (-1, 1)
        ]
        low, high = min(ends[0], est), max(ends[1], est)
        out[key] = (est, (high - low) / 2 / Z95, low, high)
    mech = {
        "mechanism": "private_quantile (OpenDP make_private_quantile), per group",
        "label": agg.alias,
        "quantile": q,
        "candidates": g.shape.describe(),
        "d_in": rows,
        "scale": est_scale,
        "epsilon": split[a],
        "interval": "DP quantiles at q ∓ rank error / (noisy count lower bound); union bound",
        "count_scale": n_scale,
    }
    return out, mech
