"""Noise scale ↔ 95% half-width, and the standard deviation of each noise distribution.

Half-widths come from OpenDP's accuracy helpers (``laplacian_scale_to_accuracy`` and
``discrete_laplacian_scale_to_accuracy`` with ``alpha = 0.05``): the returned value ``a``
satisfies ``P(|noise| >= a) = alpha`` for the Laplace; the discrete Laplace's noise is an
integer, so ``P(|noise| > a) <= alpha`` and ``estimate ± a`` covers the exact bounded value
with probability at least 0.95 (97.3% at scale 1).

>>> round(half_width(1.0, discrete=False), 4)
2.9957
>>> round(scale_for_half_width(2.9957, discrete=False), 3)
1.0
>>> round(laplace_std(2.0), 4)
2.8284
"""

from __future__ import annotations

import math

from enclave.noise._opendp import dp

__all__ = [
    "ALPHA",
    "Z95",
    "discrete_laplace_std",
    "half_width",
    "laplace_std",
    "scale_for_half_width",
]

#: Two-sided error level of every interval the enclave releases.
ALPHA = 0.05
#: Normal quantile used only for the delta-method standard error of ratios (AVG).
Z95 = 1.959963984540054


def laplace_std(scale: float) -> float:
    """Standard deviation of Laplace(0, b): √2·b."""
    return math.sqrt(2.0) * scale


def discrete_laplace_std(scale: float) -> float:
    """Standard deviation of the discrete Laplace with scale ``b`` (≈ √2·b for b ≫ 1).

    >>> round(discrete_laplace_std(100.0) / laplace_std(100.0), 3)
    1.0
    """
    if scale <= 0:
        return 0.0
    r = math.exp(-1.0 / scale)
    return math.sqrt(2.0 * r) / (1.0 - r)


def half_width(scale: float, *, discrete: bool, alpha: float = ALPHA) -> float:
    """95% half-width of the noise at ``scale`` (OpenDP accuracy helpers)."""
    if scale <= 0:
        return 0.0
    if discrete:
        return float(dp.discrete_laplacian_scale_to_accuracy(scale, alpha))
    return float(dp.laplacian_scale_to_accuracy(scale, alpha))


def scale_for_half_width(width: float, *, discrete: bool, alpha: float = ALPHA) -> float:
    """The largest noise scale whose 95% half-width is at most ``width``."""
    if width <= 0:
        raise ValueError("half-width must be positive")
    if discrete:
        return float(dp.accuracy_to_discrete_laplacian_scale(width, alpha))
    return float(dp.accuracy_to_laplacian_scale(width, alpha))
