"""The discrete Gaussian mechanism (ρ-zCDP) on exact integer totals, and its accuracy.

* ``gaussian_int``: OpenDP's ``make_gaussian`` on a vector of 64-bit integers
  (``atom_domain(T="i64")``) is the **discrete Gaussian** (Canonne, Kamath & Steinke 2020):
  exact integer sampling, no floating-point noise; totals are capped to ±2⁶² first, as for
  the Laplace. Its privacy map is ρ = Δ₂²/(2σ²) in
  zero-concentrated divergence, for the L2 sensitivity Δ₂ (``l2_distance(T="f64")``, so a
  sensitivity such as √2 is used as it is). The scale is fitted to OpenDP's map, never to
  the formula alone, and the map's ρ for what ran goes to ``record``.
* Accuracy: the 95% half-width is OpenDP's ``discrete_gaussian_scale_to_accuracy`` (the
  smallest integer ``a`` with P(|noise| ≥ a) ≤ α) for σ ≤ ``EXACT_ACCURACY_SCALE``; above it
  OpenDP's helper sums the distribution and gets slow, so ``⌈gaussian accuracy⌉ + 1`` is
  used — a valid bound: P(X ≥ m) ≤ P(N(0, σ²) ≥ m − 1) for the discrete Gaussian (its
  normaliser is ≥ √(2π)σ and its mass beyond m is below the integral from m − 1), and
  within 2 units of OpenDP's value at that scale.
* The noise's standard deviation is at most σ (the discrete Gaussian's variance is ≤ σ²);
  below σ = 8 it is computed from the distribution, above it is σ to 1e-100.

>>> noisy, scale = gaussian_int([10, 20], sensitivity=1.0, rho=0.5)
>>> len(noisy), scale
(2, 1.0)
>>> gaussian_half_width(3.0), gaussian_half_width(1e6)
(7.0, 1959965.0)
>>> round(discrete_gaussian_std(0.3), 4), discrete_gaussian_std(50.0)
(0.0876, 50.0)
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

from enclave.errors import InternalError
from enclave.noise._accuracy import ALPHA
from enclave.noise._mechanisms import _capped, fitted
from enclave.noise._opendp import dp

__all__ = [
    "EXACT_ACCURACY_SCALE",
    "RhoRecord",
    "discrete_gaussian_std",
    "gaussian_half_width",
    "gaussian_int",
    "gaussian_scale_for_half_width",
]

#: Receives the ρ that OpenDP's privacy map gives for a Gaussian measurement that ran.
RhoRecord = Callable[[float], None]
#: Largest σ whose half-width comes from OpenDP's exact discrete-Gaussian helper.
EXACT_ACCURACY_SCALE = 4096.0


def gaussian_int(
    values: Sequence[int],
    *,
    sensitivity: float,
    rho: float,
    record: RhoRecord | None = None,
) -> tuple[list[int], float]:
    """Discrete Gaussian noise on 64-bit integer totals of L2 ``sensitivity``, at ρ-zCDP."""
    if not (sensitivity > 0 and rho > 0 and math.isfinite(sensitivity)):
        raise InternalError("sensitivity and ρ must be positive")
    d_in = float(sensitivity)
    fit = fitted("gaussian", d_in, float(rho), d_in / math.sqrt(2.0 * rho))
    if record is not None:
        record(fit.loss)
    return [int(v) for v in fit.measurement([_capped(v) for v in values])], fit.scale


def discrete_gaussian_std(scale: float) -> float:
    """Standard deviation of the discrete Gaussian of scale σ (≤ σ)."""
    if scale <= 0:
        return 0.0
    if scale >= 8.0:
        return float(scale)
    top = int(40 * scale) + 2
    weights = [math.exp(-(x * x) / (2.0 * scale * scale)) for x in range(top)]
    total = weights[0] + 2.0 * sum(weights[1:])
    second = 2.0 * sum(x * x * w for x, w in enumerate(weights))
    return math.sqrt(second / total)


#: the most times ``gaussian_scale_for_half_width`` shrinks a scale before giving up
MAX_SHRINKS = 200


def gaussian_half_width(scale: float, alpha: float = ALPHA) -> float:
    """95% half-width (integer units) of discrete Gaussian noise of scale σ."""
    if scale <= 0:
        return 0.0
    if scale <= EXACT_ACCURACY_SCALE:
        return float(dp.discrete_gaussian_scale_to_accuracy(float(scale), float(alpha)))
    return float(math.ceil(dp.gaussian_scale_to_accuracy(float(scale), float(alpha))) + 1)


def gaussian_scale_for_half_width(width: float, alpha: float = ALPHA) -> float:
    """The largest σ whose ``gaussian_half_width`` is at most ``width`` (integer units), or
    0.0 when no σ > 0 reaches it (a half-width below what integer noise can have).

    >>> gaussian_scale_for_half_width(1e-3)
    0.0
    """
    if width <= 0:
        raise ValueError("half-width must be positive")
    if width <= gaussian_half_width(EXACT_ACCURACY_SCALE, alpha):
        scale = float(dp.accuracy_to_discrete_gaussian_scale(float(width), float(alpha)))
    else:  # the bound's inverse, half a unit inside so that rounding cannot cross it
        scale = float(dp.accuracy_to_gaussian_scale(math.floor(width) - 1.5, float(alpha)))
    step = 1e-9  # shrink by steps that double: a few dozen tries at most, never a hang
    for _ in range(MAX_SHRINKS):
        if scale > 0 and gaussian_half_width(scale, alpha) <= width:
            return scale
        scale *= 1.0 - step
        step = min(0.5, 2.0 * step)
    return 0.0
