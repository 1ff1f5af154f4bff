"""From noisy totals to released estimates with standard errors and 95% intervals.

Each noisy total ``t`` carries its mechanism's scale ``b`` and 95% half-width ``a``
(OpenDP accuracy helpers): COUNT and SUM release ``t``, se = the noise std (√2·b for
Laplace; exact discrete-Laplace std for counts; for the discrete Gaussian of a zcdp
project its std, ≤ σ), CI = ``t ± a`` (coverage ≥ 95%: the noise is an integer and ``a``
the smallest with P(|noise| ≥ a) ≤ 5%, or above it). Counts are
post-processed to ≥ 0 (estimate and CI lower end; the exact value is ≥ 0, so coverage is
unchanged). AVG = S/N: se by the delta method; CI from S ± a_S and N ± a_N at α/2 each
(union bound, so coverage ≥ 95%), intersected with the value bounds. VARIANCE / STDDEV
from N, S, Q (α/3 each) by interval arithmetic, clipped to [0, (hi − lo)²/4]; their se is
the CI half-width / 1.96 (conservative, documented). VAR_SAMP and VAR_POP are both
released as the population form: their ratio N/(N−1) is far inside the noise.

>>> n = Noisy(100.0, 2.0, 6.0, True)
>>> count_estimate(n)
(100, 2.0, 94.0, 106.0)
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from enclave.noise import ALPHA, TotalsNoise, half_width

__all__ = ["Noisy", "avg_estimate", "count_estimate", "spread_estimate", "sum_estimate"]

Estimate4 = tuple[float | int | None, float, float | None, float | None]


@dataclass(frozen=True)
class Noisy:
    """A noisy total with its noise std, 95% half-width, and whether it is an integer."""

    value: float
    std: float
    half: float
    discrete: bool
    scale: float = 0.0  # in the total's integer units
    unit: float = 1.0  # what one unit is worth in ``value``
    gaussian: bool = False  # discrete Gaussian noise (zcdp projects), else Laplace

    def at(self, alpha: float) -> float:
        """Half-width at another error level (for union-bound intervals)."""
        if self.gaussian:
            return TotalsNoise(True, self.scale).half_width(alpha) * self.unit
        return half_width(self.scale, discrete=self.discrete, alpha=alpha) * self.unit


def _feasible(
    low: float, high: float, half: float, floor: float, ceil: float
) -> tuple[float, float]:
    """``[low, high]`` kept to ``[floor, ceil]``; when that leaves a point or nothing (the
    interval missed the feasible range: its 5% tail), the honest answer is the half-width
    next to the bound, never a zero-width interval."""
    a, b = min(ceil, max(floor, low)), min(ceil, max(floor, high))
    if a < b:
        return a, b
    return (floor, floor + half) if high <= floor else (ceil - half, ceil)


def count_estimate(n: Noisy) -> Estimate4:
    """COUNT: the noisy count rounded and kept ≥ 0; so is its interval.

    >>> count_estimate(Noisy(-9.0, 2.0, 6.0, True))
    (0, 2.0, 0.0, 6.0)
    """
    est = max(0, round(n.value))
    low, high = _feasible(n.value - n.half, n.value + n.half, n.half, 0.0, math.inf)
    return est, n.std, low, high


def sum_estimate(s: Noisy, lo: float = -math.inf, hi: float = math.inf) -> Estimate4:
    """SUM: the noisy total, its interval kept to the sign the bounds allow.

    >>> sum_estimate(Noisy(-3.0, 2.0, 6.0, True), 0.0, 10.0)
    (0.0, 2.0, 0.0, 3.0)
    >>> sum_estimate(Noisy(-30.0, 2.0, 6.0, True), 0.0, 10.0)
    (0.0, 2.0, 0.0, 6.0)
    """
    floor = 0.0 if lo >= 0 else -math.inf
    ceil = 0.0 if hi <= 0 else math.inf
    est = min(ceil, max(floor, s.value))
    low, high = _feasible(s.value - s.half, s.value + s.half, s.half, floor, ceil)
    return est, s.std, low, high


def _ratio_range(num: tuple[float, float], den: tuple[float, float]) -> tuple[float, float] | None:
    if den[0] <= 0:
        return None
    quotients = [num[0] / den[0], num[0] / den[1], num[1] / den[0], num[1] / den[1]]
    return min(quotients), max(quotients)


def avg_estimate(s: Noisy, n: Noisy, lo: float, hi: float) -> Estimate4:
    """AVG = noisy sum / noisy count, or withheld (None, interval = the value bounds) when
    the noisy count's 97.5% lower bound is not above zero: a ratio over a count that may
    be 0 is not an estimate.

    The interval is the ratio range of the two 97.5% intervals (union bound, ≥ 95%),
    intersected with ``[lo, hi]`` (the true average lies there); when that intersection
    is empty or a point — the 5% tail — it is ``[lo, hi]``, never a zero-width interval.

    >>> avg_estimate(Noisy(10.0, 1.0, 3.0, True, 1.0), Noisy(2.0, 1.0, 3.0, True, 1.0), 0, 9)
    (None, 4.5, 0, 9)
    >>> est, se, low, high = avg_estimate(
    ...     Noisy(-50.0, 1.0, 3.0, True, 1.0), Noisy(900.0, 1.0, 3.0, True, 1.0), 0.0, 1.0)
    >>> est, (low, high)
    (0.0, (0.0, 1.0))
    """
    a_s, a_n = s.at(ALPHA / 2), n.at(ALPHA / 2)
    rng = _ratio_range((s.value - a_s, s.value + a_s), (n.value - a_n, n.value + a_n))
    if rng is None:
        return None, (hi - lo) / 2, lo, hi
    low, high = max(lo, rng[0]), min(hi, rng[1])
    if not low < high:
        low, high = lo, hi
    est = min(hi, max(lo, s.value / n.value))
    se = math.sqrt(s.std**2 + (est * n.std) ** 2) / n.value
    return est, se, low, high


def spread_estimate(
    n: Noisy, s: Noisy, q: Noisy, lo: float, hi: float, *, stddev: bool
) -> Estimate4:
    """Population VARIANCE (or STDDEV) from noisy count, sum and sum of squares."""
    top = (hi - lo) ** 2 / 4
    a_n, a_s, a_q = n.at(ALPHA / 3), s.at(ALPHA / 3), q.at(ALPHA / 3)
    n_rng = (n.value - a_n, n.value + a_n)
    mean = _ratio_range((s.value - a_s, s.value + a_s), n_rng)
    sq = _ratio_range((q.value - a_q, q.value + a_q), n_rng)
    if mean is None or sq is None:
        ci = (0.0, top)
    else:
        m2_hi = max(mean[0] ** 2, mean[1] ** 2)
        m2_lo = 0.0 if mean[0] <= 0 <= mean[1] else min(mean[0] ** 2, mean[1] ** 2)
        ci = (min(top, max(0.0, sq[0] - m2_hi)), min(top, max(0.0, sq[1] - m2_lo)))
        if not ci[0] < ci[1]:  # the 5% tail: say what is known, not a point
            ci = (0.0, top)
    est: float | None = None
    if n.value > 0:
        m = s.value / n.value
        est = min(top, max(0.0, q.value / n.value - m * m))
    se = (ci[1] - ci[0]) / 2 / 1.959963984540054
    if stddev:
        root = math.sqrt
        return (
            None if est is None else root(est),
            (root(ci[1]) - root(ci[0])) / 2 / 1.959963984540054,
            root(ci[0]),
            root(ci[1]),
        )
    return est, se, ci[0], ci[1]
