"""DP quantiles over a finite candidate list (OpenDP ``make_private_quantile``).

Used to release MEDIAN / QUANTILE_CONT of a bounded column per group (each person
contributes at most ``c`` rows to a group, so ``d_in = c`` rows of symmetric distance). The mechanism scores every candidate ``x`` by
``|(1 - alpha)·#(v < x) - alpha·#(v > x)|`` and picks one by the exponential-mechanism
family OpenDP implements (Smith 2011; permute-and-flip), so its output is always one of
the candidates. OpenDP's privacy map is linear in ``d_in`` (``2·d_in·max(alpha, 1 -
alpha) / scale``); ``quantile_scale`` checks that.

>>> quantile_candidates(512)[:12]
(1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12)
>>> quantile_candidates(512)[-1]
512
>>> round(rank_error(2.0, 100, 0.05), 2)  # score (rows) error exceeded w.p. ≤ beta
15.2
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from enclave.errors import InternalError
from enclave.noise._opendp import dp

__all__ = [
    "forget_built",
    "private_quantile",
    "quantile_candidates",
    "quantile_scale",
    "rank_error",
]


def quantile_candidates(max_value: int) -> tuple[int, ...]:
    """Every integer 1..64, then about 24 log-spaced steps per doubling up to ``max_value``."""
    out: list[int] = list(range(1, min(64, max_value) + 1))
    v = 64.0
    while v < max_value:
        v *= 2 ** (1 / 24)
        out.append(min(max_value, round(v)))
    return tuple(sorted(set(out)))


def _measure(candidates: Sequence[int], alpha: float, scale: float) -> Any:
    return _built(tuple(int(c) for c in candidates), float(alpha), float(scale))


@functools.lru_cache(maxsize=1024)
def _built(candidates: tuple[int, ...], alpha: float, scale: float) -> Any:
    """The mechanism, built once per arguments (each call of it draws fresh noise)."""
    return dp.m.make_private_quantile(
        dp.vector_domain(dp.atom_domain(T=int)),
        dp.symmetric_distance(),
        dp.max_divergence(),
        candidates=list(candidates),
        alpha=alpha,
        scale=scale,
    )


def quantile_scale(candidates: Sequence[int], alpha: float, epsilon: float, d_in: int = 1) -> float:
    """The scale at which OpenDP's map of the quantile mechanism at ``d_in`` is ≤ ``epsilon``."""
    return _fit(tuple(int(c) for c in candidates), float(alpha), float(epsilon), int(d_in))


@functools.lru_cache(maxsize=1024)
def _fit(candidates: tuple[int, ...], alpha: float, epsilon: float, d_in: int) -> float:
    unit = float(_measure(candidates, alpha, 1.0).map(1))
    if not math.isclose(
        float(_measure(candidates, alpha, 1.0).map(int(d_in))),
        unit * d_in,
        rel_tol=1e-9,
    ):
        raise InternalError("the quantile privacy map is not linear in d_in")
    scale = unit * d_in / epsilon
    for _ in range(60):
        if float(_measure(candidates, alpha, scale).map(int(d_in))) <= epsilon:
            return scale
        scale *= 1.0 + 1e-6
    raise InternalError("could not fit the quantile scale to its ε share")


def rank_error(scale: float, n_candidates: int, beta: float) -> float:
    """Rows of rank error the mechanism exceeds with probability at most ``beta``.

    A candidate whose score is worse than the best by ``t`` wins over the best with
    probability ≤ ``exp(-t / scale)`` (Gumbel and exponential noise alike); a union bound
    over the candidates gives ``t = scale · ln(K / beta)``. Scores are in rows (one row
    moves a score by at most ``max(alpha, 1 - alpha)``).
    """
    return float(scale) * math.log(n_candidates / beta)


def private_quantile(
    values: Sequence[int] | np.ndarray,
    *,
    candidates: Sequence[int],
    alpha: float,
    epsilon: float | None = None,
    d_in: int = 1,
    scale: float | None = None,
    record: Callable[[float, float], None] | None = None,
) -> int:
    """The ``alpha``-quantile of ``values`` chosen among ``candidates`` with ε-DP.

    Give ``epsilon`` (calibrated at ``d_in``) or a ``scale`` from ``quantile_scale``.

    >>> q = private_quantile([5] * 2000, candidates=range(1, 11), alpha=0.5, epsilon=1.0)
    >>> 1 <= q <= 10
    True
    """
    cands = [int(c) for c in candidates]
    if scale is None:
        if epsilon is None:
            raise InternalError("private_quantile needs epsilon or scale")
        scale = quantile_scale(cands, alpha, epsilon, d_in)
    meas = _measure(cands, alpha, scale)
    if record is not None:
        record(float(meas.map(int(d_in))), 0.0)
    # a contiguous int32 array crosses into OpenDP without a per-element Python conversion
    data = np.ascontiguousarray(
        np.asarray(values, dtype=np.int64).clip(-(2**31), 2**31 - 1), dtype=np.int32
    )
    return int(meas(data))


def forget_built() -> None:
    """Drop the quantile mechanisms and fitted scales kept for reuse."""
    _built.cache_clear()
    _fit.cache_clear()
