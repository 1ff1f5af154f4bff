"""The distribution of a released weekly value when there is no outbreak.

A released value is ``Y = max(0, X + L)``: ``X`` the week's true count, ``L`` the release's
discrete Laplace noise of scale ``b`` (``P(L = l) ∝ exp(−|l| / b)``, known from the
release), clipped at 0 as every released count is. The detectors model ``X`` as negative
binomial with the baseline's mean ``mu`` and variance ``var`` (Poisson when ``var ≤ mu``),
so the thresholds and tail probabilities below are exact for that model, noise included:
the noise's tails are heavier than a normal's, which matters for small counts.

>>> p = Predictive.of(0.0, 0.0, 1.25)      # nothing there: pure release noise
>>> round(p.upper_tail(1), 3), p.quantile(0.99)
(0.31, 5)
>>> Predictive.of(20.0, 20.0, 0.0).quantile(0.5)  # Poisson(20) without noise
20
>>> round(scale_from_se(1.7209), 3)
1.25
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from statistics import NormalDist

import numpy as np

__all__ = ["Predictive", "laplace_pmf", "scale_from_se"]

_NORMAL = NormalDist()
_Z_CAP = 8.0


def scale_from_se(se: float) -> float:
    """The discrete Laplace scale whose standard deviation is ``se`` (0 for no noise).

    Variance ``2q / (1 − q)²`` with ``q = exp(−1/b)``, solved for ``q``.
    """
    v = float(se) ** 2
    if v <= 1e-12:
        return 0.0
    q = ((v + 1.0) - math.sqrt(2.0 * v + 1.0)) / v
    return -1.0 / math.log(q)


def laplace_pmf(scale: float) -> np.ndarray:
    """P(L = l) for l = −M … M (M where the tail falls below 1e-13); [1] without noise."""
    if scale <= 0:
        return np.ones(1)
    q = math.exp(-1.0 / scale)
    m = math.ceil(30.0 * scale) + 1
    ls = np.abs(np.arange(-m, m + 1))
    pmf = (1.0 - q) / (1.0 + q) * q**ls
    return np.asarray(pmf / pmf.sum())


def _count_pmf(mu: float, var: float) -> np.ndarray:
    """P(X = x), x = 0 … N: negative binomial of mean ``mu`` and variance ``var``
    (Poisson when ``var ≤ mu``)."""
    mu = max(float(mu), 1e-9)
    var = max(float(var), mu)
    n = int(mu + 12.0 * math.sqrt(var) + 12.0)
    x = np.arange(n + 1, dtype=float)
    log_fact = np.concatenate([[0.0], np.cumsum(np.log(x[1:]))])
    if var <= mu * (1.0 + 1e-6):
        logp = -mu + x * math.log(mu) - log_fact
    else:
        r = mu * mu / (var - mu)
        rising = np.concatenate([[0.0], np.cumsum(np.log(x[:-1] + r))])
        logp = rising - log_fact + r * math.log(r / (r + mu)) + x * math.log(mu / (r + mu))
    p = np.exp(logp - logp.max())
    return np.asarray(p / p.sum())


@dataclass(frozen=True)
class Predictive:
    """P(Y = y) for y = 0 … len − 1 (the rest has probability below 1e-12)."""

    pmf: np.ndarray
    cdf: np.ndarray

    @classmethod
    def of(cls, mu: float, var: float, scale: float) -> Predictive:
        """The released value's distribution for a true count of mean ``mu`` and
        variance ``var`` under discrete Laplace noise of ``scale``."""
        noise = laplace_pmf(scale)
        m = len(noise) // 2
        full = np.convolve(_count_pmf(mu, var), noise)  # values −m … N + m
        pmf = np.concatenate([[full[: m + 1].sum()], full[m + 1 :]])
        return cls(pmf, np.cumsum(pmf))

    def quantile(self, level: float) -> int:
        """The smallest ``c`` with P(Y ≤ c) ≥ level: a value above it has a chance of at
        most ``1 − level``."""
        at = int(np.searchsorted(self.cdf, level - 1e-12))
        return min(at, len(self.cdf) - 1)

    def upper_tail(self, y: float) -> float:
        """P(Y ≥ y): how often a value at least this large comes by chance."""
        k = round(y)
        if k <= 0:
            return 1.0
        if k >= len(self.cdf):
            return 0.0
        return float(max(0.0, 1.0 - self.cdf[k - 1]))

    def z(self, y: float) -> float:
        """The value as a standard normal score (mid-p): 0 at the median, about 2.3 at
        the upper 1%; capped at ±8."""
        k = round(y)
        if k >= len(self.cdf):
            return _Z_CAP
        below = 0.0 if k <= 0 else float(self.cdf[k - 1])
        u = below + 0.5 * float(self.pmf[max(k, 0)])
        u = min(max(u, 1e-15), 1.0 - 1e-15)
        return max(-_Z_CAP, min(_Z_CAP, _NORMAL.inv_cdf(u)))
