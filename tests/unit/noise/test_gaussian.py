"""The discrete Gaussian as the enclave runs it: its std matches σ, its 95% half-width
covers, OpenDP's map is the ρ charged, its Rényi divergences are within ρ, pure ε-DP maps
to ε²/2, and a stochastic privacy test (``tests/_dp_tester``) of the (ε, δ) its ρ implies."""

from __future__ import annotations

import math

import numpy as np
import pytest

from enclave.noise import (
    discrete_gaussian_std,
    gaussian_half_width,
    gaussian_int,
    gaussian_scale_for_half_width,
    noise_totals,
    share_for_half_width,
    totals_noise,
)
from enclave.noise._opendp import dp
from enclave.policy import epsilon_of_rho, pure_rho
from tests._dp_tester import empirical_loss, threshold_events

DRAWS = 40_000


def _draws(n: int, *, sensitivity: float, rho: float, at: int = 0) -> np.ndarray:
    out, _ = gaussian_int([at] * n, sensitivity=sensitivity, rho=rho)
    return np.asarray(out, dtype=float)


@pytest.mark.parametrize("sigma", [0.6, 3.0, 50.0, 2.0e6])
def test_noise_std_matches_sigma(sigma: float) -> None:
    rho = 1.0 / (2.0 * sigma * sigma)  # sensitivity 1
    x = _draws(DRAWS, sensitivity=1.0, rho=rho)
    want = discrete_gaussian_std(sigma)
    assert want <= sigma and (sigma < 8 or want == sigma)
    tolerance = 5 * want / math.sqrt(2 * DRAWS)  # five standard errors of a sample std
    print(f"σ = {sigma:g}: sample std {x.std():.6g}, expected {want:.6g} ± {tolerance:.3g}")
    assert abs(x.std() - want) <= tolerance
    assert abs(x.mean()) <= 5 * want / math.sqrt(DRAWS)


@pytest.mark.parametrize("sigma", [0.8, 4.0, 300.0, 5000.0])
def test_half_width_covers_95_percent(sigma: float) -> None:
    x = _draws(DRAWS, sensitivity=1.0, rho=1.0 / (2.0 * sigma * sigma))
    half = gaussian_half_width(sigma)
    covered = float(np.mean(np.abs(x) <= half))
    print(f"σ = {sigma:g}: half-width {half:g}, covered {covered:.4f}")
    assert covered >= 0.95 - 4 * math.sqrt(0.05 * 0.95 / DRAWS)
    if sigma >= 100:  # not far above 95%: the interval is tight, not just safe
        assert covered <= 0.955 + 4 * math.sqrt(0.05 * 0.95 / DRAWS)


@pytest.mark.parametrize("width", [1.0, 2.0, 7.0, 100.0, 8000.0, 8100.0, 1e5, 1e12])
def test_scale_for_half_width_inverts(width: float) -> None:
    sigma = gaussian_scale_for_half_width(width)
    assert gaussian_half_width(sigma) <= width
    assert gaussian_half_width(sigma * 1.01) > width or width < 3


@pytest.mark.parametrize("sens,rho", [(1.0, 0.5), (2.0, 0.0025), (math.sqrt(3), 1e-4), (1e9, 3e-3)])
def test_opendp_map_is_the_rho_charged(sens: float, rho: float) -> None:
    seen: list[float] = []
    _, sigma = gaussian_int([0, 1, 2], sensitivity=sens, rho=rho, record=seen.append)
    assert len(seen) == 1 and rho * (1 - 1e-5) <= seen[0] <= rho
    assert sigma == pytest.approx(sens / math.sqrt(2 * rho), rel=1e-5)
    direct = dp.m.make_gaussian(
        dp.vector_domain(dp.atom_domain(T="i64")), dp.l2_distance(T="f64"), scale=sigma
    )
    assert direct.map(sens) == pytest.approx(seen[0])


def _log_pmf(sigma: float, shift: int, xs: np.ndarray) -> np.ndarray:
    logw = -((xs - shift) ** 2) / (2 * sigma * sigma)
    return logw - np.log(np.exp(logw - logw.max()).sum()) - logw.max()


@pytest.mark.parametrize("sigma,shift", [(0.7, 1), (2.0, 1), (3.0, 4), (10.0, 3)])
def test_renyi_divergence_is_within_rho(sigma: float, shift: int) -> None:
    """zCDP: D_α(M(x) ‖ M(x')) ≤ α·ρ for every α > 1, ρ = Δ²/(2σ²) (numerically, on the
    discrete Gaussian's exact probabilities); equal when (α − 1)·Δ is an integer."""
    rho = shift * shift / (2 * sigma * sigma)
    xs = np.arange(-int(60 * sigma) - 10 * shift, int(60 * sigma) + 10 * shift + 1, dtype=float)
    p, q = _log_pmf(sigma, 0, xs), _log_pmf(sigma, shift, xs)
    for alpha in (1.01, 1.5, 2.0, 5.0, 20.0):
        terms = alpha * p + (1 - alpha) * q
        top = terms.max()
        divergence = (top + math.log(np.exp(terms - top).sum())) / (alpha - 1)
        assert divergence <= alpha * rho * (1 + 1e-9), (alpha, divergence, alpha * rho)
        if float((alpha - 1) * shift).is_integer():  # the lattice shifted onto itself
            assert divergence >= alpha * rho * (1 - 1e-6)


@pytest.mark.parametrize("epsilon", [0.05, 0.5, 2.0])
def test_pure_dp_is_half_epsilon_squared_zcdp(epsilon: float) -> None:
    """The mixed-pieces rule is OpenDP's own conversion (make_pureDP_to_zCDP)."""
    space = dp.atom_domain(T="i64"), dp.absolute_distance(T="i64")
    laplace = dp.m.make_laplace(*space, scale=1.0 / epsilon)
    assert dp.c.make_pureDP_to_zCDP(laplace).map(1) == pytest.approx(pure_rho(laplace.map(1)))


def test_totals_noise_is_the_one_choice() -> None:
    values = [5, 10, 15]
    seen: dict[str, float] = {}
    _, lap = noise_totals(
        values, gaussian=False, l1=2, l2=2.0, share=0.5, record=lambda e, d: seen.update(eps=e)
    )
    _, gauss = noise_totals(
        values, gaussian=True, l1=2, l2=2.0, share=0.5, record_rho=lambda r: seen.update(rho=r)
    )
    assert (lap.name, gauss.name) == ("discrete_laplace", "discrete_gaussian")
    assert seen["eps"] <= 0.5 and seen["rho"] <= 0.5
    assert gauss == totals_noise(gaussian=True, l1=2, l2=2.0, share=0.5)
    rho = share_for_half_width(gauss.half_width(), gaussian=True, l1=2, l2=2.0)
    assert rho <= 0.5 and totals_noise(gaussian=True, l1=2, l2=2.0, share=rho).half_width() <= (
        gauss.half_width()
    )


@pytest.mark.slow
def test_stochastic_privacy_of_the_discrete_gaussian() -> None:
    """A neighbour moves the total by the sensitivity Δ: the empirical (ε, δ) loss between
    the two output distributions stays within the ε that OpenDP's conversion gives ρ at δ;
    a neighbour 3Δ away (noise a third as large as needed) is seen past it."""
    delta, rho, sens = 1e-3, 0.5, 2.0
    eps = epsilon_of_rho(rho, delta)
    draws = 60_000

    def sample(shift: float, n: int) -> np.ndarray:
        return _draws(n, sensitivity=sens, rho=rho, at=int(shift)).reshape(-1, 1)

    base = sample(0, draws)
    for shift, within in ((sens, True), (3 * sens, False)):
        other = sample(shift, draws)
        events = threshold_events(np.vstack([sample(0, 2000), sample(shift, 2000)]), pairs=False)
        loss = empirical_loss(base, other, events, alpha=1e-6, delta=delta)
        print(f"shift {shift:g}: ε({rho}, {delta}) = {eps:.3f}; {loss}")
        assert (loss.lower <= eps) == within, loss
