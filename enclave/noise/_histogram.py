"""Reading a noisy histogram of persons per rows bin: which bins are real, and a fallback fit.

Post-processing only: every function here takes the DP histogram (discrete Laplace counts
at ``scale``) and data-independent constants. Bin ``i`` holds the persons whose row count
lies in ``[c_i, c_{i+1})`` for the candidates ``c`` (the last bin: ``n ≥ c_last``).

``counted`` says which bins are taken as real, or ``None`` when the population is too small
to see (no bin reaches ``seen_threshold``: some empty bin gets there with probability at
most ``BETA_SEEN``). Otherwise the bin with the largest noisy count (the mode) is real, and
so is every bin below it (clipped at 0) and every bin right above it that reaches the
``BETA_NEXT`` threshold, less that threshold (tails are contiguous, the first miss ends the
tail, and the shrinkage keeps an empty bin that got through from adding many phantom rows)
— plus any bin higher up that reaches the ``BETA_FAR`` threshold (a cluster of heavy users
at the cap, which a large population shows clearly; or, in a value histogram, the real
values past a gap above a spike at zero) with its own contiguous tail.

``lognormal_fit`` is the fallback for a population too small to see: the expected counts
of the discretised log-normal (over a fixed grid of location and spread) and a population
size that fit the noisy counts with the least absolute deviation — the discrete Laplace
likelihood — or ``None`` when no population fits better than none.

>>> counted([500, 300, 9, 0, 30, 0], 10.0)
[500.0, 300.0, 4.0, 0.0, 0.0, 0.0]
>>> counted([900, 0, 0, 400, 50, 12, 0], 10.0)  # a spike, a gap, real values and their tail
[900.0, 0.0, 0.0, 400.0, 45.0, 7.0, 0.0]
>>> counted([5, -3, 12, 0], 10.0) is None
True
>>> fit = lognormal_fit([0, 40, 35, 2, 0, -4], (1, 2, 4, 8, 16, 32))
>>> [round(x) for x in fit]
[1, 39, 35, 2, 0, 0]
>>> lognormal_fit([0, 0, 0, 0], (1, 2, 4, 8)) is None
True
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence

__all__ = [
    "BETA_FAR",
    "BETA_NEXT",
    "BETA_SEEN",
    "counted",
    "lognormal_fit",
    "seen_threshold",
    "threshold_for",
]

#: chance that some empty bin reaches the threshold at which a population is seen
BETA_SEEN = 0.1
#: chance that an empty bin right above the real ones is taken as real
BETA_NEXT = 0.35
#: chance that some lone empty bin far above the real ones is taken as real
BETA_FAR = 0.01


def threshold_for(scale: float, n_bins: int, beta: float) -> float:
    """Noisy count that one of ``n_bins`` empty bins reaches with probability ≤ ``beta``.

    The discrete Laplace with scale ``s`` has ``P(X ≥ t) = r^t / (1 + r)``, ``r = e^(−1/s)``.

    >>> threshold_for(10.0, 10, 0.1)
    40.0
    """
    r = math.exp(-1.0 / scale)
    return float(max(1, math.ceil(math.log(beta * (1 + r) / n_bins) / math.log(r))))


def seen_threshold(scale: float, n_bins: int) -> float:
    """The noisy count from which a bin shows that the population is there at all."""
    return threshold_for(scale, n_bins, BETA_SEEN)


def counted(noisy: Sequence[int], scale: float) -> list[float] | None:
    """The bins taken as real (counts, 0 for the others), or None if nothing is seen."""
    n = len(noisy)
    if max(noisy) < seen_threshold(scale, n):
        return None
    mode = max(range(n), key=lambda i: noisy[i])
    far = threshold_for(scale, n, BETA_FAR)
    kept = [
        float(max(0, x)) if i <= mode else float(x) if x >= far else 0.0
        for i, x in enumerate(noisy)
    ]
    step = threshold_for(scale, 1, BETA_NEXT)
    for seed in (i for i in range(mode, n) if i == mode or noisy[i] >= far):
        i = seed + 1
        while i < n and noisy[i] >= step:
            kept[i] = max(kept[i], float(noisy[i]) - step)
            i += 1
    return kept


def _phi(z: float) -> float:
    return 0.5 * (1.0 + math.erf(z / math.sqrt(2.0)))


@functools.lru_cache(maxsize=8)
def _shapes(candidates: tuple[int, ...]) -> tuple[tuple[float, ...], ...]:
    """Bin probabilities of a grid of discretised log-normals (edges at c − ½)."""
    logs = [math.log(c - 0.5) for c in candidates]
    top = math.log(candidates[-1])
    out = []
    for k in range(31):
        mu = -1.0 + k * (top + 1.0) / 30
        for sigma in (0.25, 0.4, 0.6, 0.8, 1.0, 1.3, 1.7):
            cdf = [_phi((x - mu) / sigma) for x in logs] + [1.0]
            out.append(tuple(cdf[i + 1] - cdf[i] for i in range(len(candidates))))
    return tuple(out)


def lognormal_fit(noisy: Sequence[int], candidates: tuple[int, ...]) -> list[float] | None:
    """Expected counts per bin of the least-absolute-deviation log-normal fit, or None."""
    total = float(sum(max(0, x) for x in noisy))
    least = float(sum(abs(x) for x in noisy))  # the loss of no population at all
    best: list[float] | None = None
    for shape in _shapes(tuple(candidates)):
        for share in (0.25, 0.5, 0.75, 1.0, 1.25):
            fit = [share * total * p for p in shape]
            loss = float(sum(abs(x - f) for x, f in zip(noisy, fit, strict=True)))
            if loss < least:
                least, best = loss, fit
    return best
