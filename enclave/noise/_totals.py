"""The one choice of mechanism for exact integer totals: discrete Laplace or discrete Gaussian.

A project's accounting decides (``enclave.policy.Accounting``): under ``pure`` every total
gets the discrete Laplace at its ε share (L1 sensitivity Δ₁, scale b = Δ₁/ε); under
``zcdp`` the discrete Gaussian at its ρ share (L2 sensitivity Δ₂, σ = Δ₂/√(2ρ)). Both are
OpenDP's exact integer samplers, checked against OpenDP's own privacy map
(``_mechanisms.laplace_int``, ``_gaussian.gaussian_int``). ``TotalsNoise`` is what the
release needs from either: the scale, the noise's standard deviation and its 95%
half-width (OpenDP's accuracy helpers for each).

>>> lap = totals_noise(gaussian=False, l1=2, l2=2.0, share=1.0)
>>> lap.name, lap.scale, round(lap.std, 3), round(lap.half_width(), 3)
('discrete_laplace', 2.0, 2.799, 6.43)
>>> gauss = totals_noise(gaussian=True, l1=2, l2=2.0, share=0.5)
>>> gauss.name, gauss.scale, round(gauss.std, 6), gauss.half_width()
('discrete_gaussian', 2.0, 2.0, 5.0)
>>> round(share_for_half_width(5.0, gaussian=True, l1=2, l2=2.0), 4)  # σ up to 2.31 fits
0.3735
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from enclave.noise._accuracy import ALPHA, discrete_laplace_std, half_width, scale_for_half_width
from enclave.noise._gaussian import (
    RhoRecord,
    discrete_gaussian_std,
    gaussian_half_width,
    gaussian_int,
    gaussian_scale_for_half_width,
)
from enclave.noise._mechanisms import Record, laplace_int

__all__ = ["TotalsNoise", "noise_totals", "share_for_half_width", "totals_noise"]


@dataclass(frozen=True)
class TotalsNoise:
    """The noise on one vector of integer totals: which mechanism, at which scale."""

    gaussian: bool
    scale: float  # Laplace b or Gaussian σ, in the totals' integer units

    @property
    def name(self) -> str:
        return "discrete_gaussian" if self.gaussian else "discrete_laplace"

    @property
    def std(self) -> float:
        """The noise's standard deviation (integer units)."""
        if self.gaussian:
            return discrete_gaussian_std(self.scale)
        return discrete_laplace_std(self.scale)

    def half_width(self, alpha: float = ALPHA) -> float:
        """The noise's (1 − alpha) half-width: P(|noise| > it) ≤ alpha (OpenDP helpers)."""
        if self.gaussian:
            return gaussian_half_width(self.scale, alpha)
        return half_width(self.scale, discrete=True, alpha=alpha)


def totals_noise(*, gaussian: bool, l1: float, l2: float, share: float) -> TotalsNoise:
    """The nominal noise at an ε share (Laplace, L1 ``l1``) or a ρ share (Gaussian, L2
    ``l2``) — what a dry run and an accuracy target reason with; the mechanism that runs
    fits its scale to OpenDP's map (at most a relative 1e-4 larger)."""
    if gaussian:
        return TotalsNoise(True, float(l2) / math.sqrt(2.0 * share))
    return TotalsNoise(False, float(l1) / share)


def share_for_half_width(width: float, *, gaussian: bool, l1: float, l2: float) -> float:
    """The ε share (Laplace) or ρ share (Gaussian) whose 95% half-width is ``width``."""
    if gaussian:
        sigma = gaussian_scale_for_half_width(width)
        return float(l2) ** 2 / (2.0 * sigma * sigma) if sigma > 0 else math.inf
    return float(l1) / scale_for_half_width(width, discrete=True)


def noise_totals(
    values: Sequence[int],
    *,
    gaussian: bool,
    l1: int,
    l2: float,
    share: float,
    record: Record | None = None,
    record_rho: RhoRecord | None = None,
) -> tuple[list[int], TotalsNoise]:
    """Noisy totals: discrete Laplace at ε = ``share`` or discrete Gaussian at ρ = ``share``."""
    if gaussian:
        out, scale = gaussian_int(values, sensitivity=l2, rho=share, record=record_rho)
    else:
        out, scale = laplace_int(values, sensitivity=int(l1), epsilon=share, record=record)
    return out, TotalsNoise(gaussian, scale)
