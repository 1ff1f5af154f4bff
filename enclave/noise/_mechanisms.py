"""Laplace mechanisms and noisy-threshold key selection, all built from OpenDP.

* Integer totals (counts, and sums in exact integer units) get the **discrete Laplace**
  mechanism: ``make_laplace`` on a vector of 64-bit integers (``atom_domain(T="i64")``)
  with the L1 metric — exact integer sampling; totals beyond ±2⁶² are capped first (a
  data-independent cap no bounded query reaches).
* Private group keys are released by ``make_laplace_threshold`` (Rogers 2023): each
  key's count gets discrete Laplace noise and only keys whose noisy count reaches the
  threshold are released; δ is the chance a key unique to one person gets through.

Every scale is checked against OpenDP's own privacy map, never a hand formula alone, and
each function hands the map's value for the measurement it actually ran to ``record`` (the
gateway adds these up and refuses to release if they exceed what was charged).

>>> noisy, scale = laplace_int([10, 20], sensitivity=1, epsilon=1.0)
>>> len(noisy), scale
(2, 1.0)
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping, Sequence
from typing import Any, NamedTuple

from enclave.errors import InternalError
from enclave.noise._opendp import dp

__all__ = [
    "INT_CAP",
    "Fitted",
    "Record",
    "fitted",
    "forget_built",
    "laplace_int",
    "threshold_counts",
    "threshold_for_delta",
]

#: Integer totals are capped to ±INT_CAP before noise (64-bit headroom for the noise).
INT_CAP = 2**62
#: Receives (ε, δ) that OpenDP's privacy map gives for a measurement that ran.
Record = Callable[[float, float], None]


class Fitted(NamedTuple):
    """An OpenDP measurement, its scale, and its privacy map's value at the fitted d_in."""

    measurement: Any
    scale: float
    loss: float


def _capped(v: int) -> int:
    return max(-INT_CAP, min(INT_CAP, int(v)))


def _laplace(scale: float) -> Any:
    space = (dp.vector_domain(dp.atom_domain(T="i64")), dp.l1_distance(T="i64"))
    return dp.m.make_laplace(*space, scale=scale)


def _gaussian(scale: float) -> Any:
    space = (dp.vector_domain(dp.atom_domain(T="i64")), dp.l2_distance(T="f64"))
    return dp.m.make_gaussian(*space, scale=scale)


#: the integer-vector measurements a scale is fitted for, by name
_BUILDERS: dict[str, Callable[[float], Any]] = {"laplace": _laplace, "gaussian": _gaussian}


@functools.lru_cache(maxsize=4096, typed=True)
def fitted(kind: str, d_in: float, budget: float, start: float | None = None) -> Fitted:
    """The ``kind`` measurement ("laplace" or "gaussian") at the smallest scale ≈ d_in/ε (or
    ``start``) whose OpenDP privacy map at ``d_in`` is ≤ ``budget`` (ε, or ρ for the
    Gaussian), nudged up for rounding; with the map's value. Built once per arguments and
    reused: a measurement draws fresh noise on every call.
    """
    build = _BUILDERS[kind]
    scale = float(d_in) / budget if start is None else start
    for _ in range(60):
        meas = build(scale)
        loss = float(meas.map(d_in))
        if loss <= budget:
            return Fitted(meas, scale, loss)
        scale *= 1.0 + 1e-6
    raise InternalError("could not fit a noise scale to its privacy share")


def laplace_int(
    values: Sequence[int],
    *,
    sensitivity: int,
    epsilon: float,
    record: Record | None = None,
) -> tuple[list[int], float]:
    """Discrete Laplace noise on a vector of 64-bit integer totals with L1 ``sensitivity``."""
    if sensitivity <= 0 or epsilon <= 0:
        raise InternalError("sensitivity and ε must be positive")
    if sensitivity > INT_CAP:
        raise InternalError("sensitivity beyond 64-bit integers")
    fit = fitted("laplace", int(sensitivity), float(epsilon))
    if record is not None:
        record(fit.loss, 0.0)
    return [int(v) for v in fit.measurement([_capped(v) for v in values])], fit.scale


def _threshold_space() -> tuple[Any, Any]:
    domain = dp.map_domain(dp.atom_domain(T=str), dp.atom_domain(T="i64"))
    return domain, dp.l01inf_distance(dp.absolute_distance(T="i64"))


@functools.lru_cache(maxsize=1024)
def threshold_for_delta(
    *, l0: int, l1: int, linf: int, epsilon: float, delta: float
) -> tuple[float, int]:
    """Scale and the smallest integer threshold for which OpenDP's map gives (≤ ε, ≤ δ).

    ``l0`` bounds the groups one person touches, ``l1`` the sum and ``linf`` the largest
    change of one person to the counts.

    >>> scale, tau = threshold_for_delta(l0=1, l1=1, linf=1, epsilon=1.0, delta=1e-6)
    >>> scale, 10 < tau < 20
    (1.0, True)
    """
    if delta <= 0:
        raise InternalError("noisy thresholding needs δ > 0")
    space = _threshold_space()
    d_in = (int(l0), int(l1), int(linf))
    scale = float(l1) / epsilon

    def gives(tau: int) -> tuple[float, float]:
        eps, dlt = dp.m.make_laplace_threshold(*space, scale=scale, threshold=tau).map(d_in)
        return float(eps), float(dlt)

    for _ in range(60):
        if gives(int(linf) + 1)[0] <= epsilon:
            break
        scale *= 1.0 + 1e-6
    lo, hi = int(linf) + 1, int(linf) + 2
    while gives(hi)[1] > delta:
        lo, hi = hi, hi * 2
    while lo < hi:
        mid = (lo + hi) // 2
        if gives(mid)[1] <= delta:
            hi = mid
        else:
            lo = mid + 1
    eps, dlt = gives(hi)
    if eps > epsilon * (1 + 1e-9) or dlt > delta:
        raise InternalError("threshold does not meet its (ε, δ) share")
    return scale, hi


@functools.lru_cache(maxsize=1024)
def _threshold_measurement(scale: float, threshold: int) -> Any:
    return dp.m.make_laplace_threshold(*_threshold_space(), scale=scale, threshold=threshold)


@functools.lru_cache(maxsize=1024)
def _threshold_loss(scale: float, threshold: int, d_in: tuple[int, ...]) -> tuple[float, float]:
    eps, dlt = _threshold_measurement(scale, threshold).map(d_in)
    return float(eps), float(dlt)


def threshold_counts(
    counts: Mapping[str, int],
    *,
    scale: float,
    threshold: int,
    d_in: tuple[int, int, int] | None = None,
    record: Record | None = None,
) -> dict[str, int]:
    """Noisy counts of the keys whose noisy count reaches ``threshold`` (others dropped).

    ``d_in`` = (l0, l1, linf) of one person, for ``record``.
    """
    meas = _threshold_measurement(float(scale), int(threshold))
    if record is not None:
        if d_in is None:
            raise InternalError("recording a threshold's loss needs its d_in")
        eps, dlt = _threshold_loss(float(scale), int(threshold), tuple(int(v) for v in d_in))
        record(eps, dlt)
    out = meas({str(k): _capped(v) for k, v in counts.items()})
    return {str(k): int(v) for k, v in out.items()}


def forget_built() -> None:
    """Drop the measurements (and fitted scales, threshold maps) kept for reuse."""
    for cached in (fitted, threshold_for_delta, _threshold_measurement, _threshold_loss):
        cached.cache_clear()
