"""A noise-aware quasi-Poisson regression baseline, after Farrington-flexible (Noufaily et
al. 2013), fitted to many series at once (one column per region).

For the week ``t`` to judge, the reference weeks are the usable weeks from
``t − 52·years_back − half_window`` to ``t − 1 − exclude_recent``. Each reference week
``s`` falls in a *seasonal block* by its distance in the year from ``t``,
``d = (t − s) mod 52``: block 0 when ``d ≤ half_window + exclude_recent`` or
``d ≥ 52 − half_window`` (the same time of year), the other distances split into
``periods − 1`` equal blocks (Noufaily's 10-level factor). Once a year of weeks precedes
``t``, block 0 holds the same time of *past* years only and the last few weeks join block
1 (``recent_in_window = False``, the default): an outbreak's first weeks, or the season's
peak just passed, then do not become the expected value of the weeks after them (as in
Farrington's algorithm, whose reference values all come from past years). Before that, and
with ``recent_in_window = True``, the last few weeks are block 0 too. The model is

    log E[Y_s] = β₀ + β₁·(s − t)/52 + γ_block(s),     Var[Y_s] = φ·μ_s + σ²_s

with ``σ²_s`` the release's known noise variance (so the dispersion ``φ`` is the counts'
own, not the noise's), fitted by iteratively reweighted least squares (quasi-likelihood).
As in Farrington's algorithm, weeks with a standardised residual above
``reweight_threshold`` (2.58) get weight ``∝ r⁻²`` and the model is fitted again, so past
outbreaks weigh little; the trend is kept only when it is significant (|z| ≥ 1.96) and the
prediction stays within the reference values. The prediction for ``t`` is block 0 at
trend 0: ``μ₀ = exp(β₀)``, with ``Var(η₀)`` from the fit's covariance.

>>> rng = np.random.default_rng(1)
>>> y = rng.poisson(30.0, size=(60, 3)).astype(float)
>>> fit = fit_baseline(y, np.ones_like(y, bool), np.full_like(y, 3.0), 60, Design())
>>> bool(np.all(np.abs(fit.mu - 30) < 5)), bool(np.all(fit.ok))
(True, True)
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["Baseline", "Design", "design", "fit_baseline"]

_RIDGE = 1e-6


@dataclass(frozen=True)
class Design:
    """The regression's settings (``[alerts.farrington]`` in policies/indicators.toml)."""

    years_back: int = 2
    half_window: int = 3
    periods: int = 10
    exclude_recent: int = 0
    min_reference: int = 8
    reweight_threshold: float = 2.58
    recent_in_window: bool = False


@dataclass(frozen=True)
class Baseline:
    """Per column: expected value, Var(log expected), dispersion, and whether it fitted."""

    mu: np.ndarray
    var_eta: np.ndarray
    phi: np.ndarray
    ok: np.ndarray


def design(t: int, d: Design) -> tuple[np.ndarray, np.ndarray]:
    """Reference week indices (ascending) and their design matrix for week ``t``."""
    first = max(0, t - 52 * d.years_back - d.half_window)
    weeks = np.arange(first, t - d.exclude_recent)
    back = t - weeks
    dist = back % 52
    in_window = (dist <= d.half_window + d.exclude_recent) | (dist >= 52 - d.half_window)
    if not d.recent_in_window and t >= 52:  # a year of history: block 0 is past years'
        recent = in_window & (back < 52 - d.half_window)
        in_window &= ~recent
        dist = np.where(recent, d.half_window + 1, dist)  # the last weeks join block 1
    span = 52 - 2 * d.half_window - 1
    block = np.where(in_window, 0, 1 + (dist - d.half_window - 1) * (d.periods - 1) // span)
    x = np.zeros((len(weeks), 1 + d.periods), dtype=float)
    x[:, 0] = 1.0
    x[:, 1] = (weeks - t) / 52.0
    for b in range(1, d.periods):
        x[:, 1 + b] = block == b
    return weeks, x


def _irls(
    y: np.ndarray,
    w: np.ndarray,
    x: np.ndarray,
    noise: np.ndarray,
    phi: np.ndarray,
    start: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Coefficients (m×p), fitted means (n×m) and the inverse information (m×p×p)."""
    n, p = x.shape
    if start is None:
        mean = (w * y).sum(0) / np.maximum(w.sum(0), 1e-9)
        beta = np.zeros((y.shape[1], p))
        beta[:, 0] = np.log(np.maximum(mean, 0.5))
    else:
        beta = start
    ridge = _RIDGE * np.eye(p)
    outer = (x[:, :, None] * x[:, None, :]).reshape(n, p * p)
    for _ in range(12):
        eta = np.clip(x @ beta.T, -7.0, 16.0)
        mu = np.exp(eta)
        ww = w * mu * mu / (phi * mu + noise)
        z = eta + (y - mu) / mu
        info = _information(outer, ww, p) + ridge
        rhs = (ww * z).T @ x
        new = np.clip(np.linalg.solve(info, rhs[..., None])[..., 0], -30.0, 30.0)
        done = np.max(np.abs(new - beta)) < 1e-4
        beta = new
        if done:
            break
    eta = np.clip(x @ beta.T, -7.0, 16.0)
    mu = np.exp(eta)
    ww = w * mu * mu / (phi * mu + noise)
    return beta, mu, np.linalg.inv(_information(outer, ww, p) + ridge)


def _information(outer: np.ndarray, ww: np.ndarray, p: int) -> np.ndarray:
    """Xᵀ diag(w_j) X for every column j at once (m×p×p), from the rows' outer products
    (n×p²): one matrix product."""
    return np.asarray((ww.T @ outer).reshape(-1, p, p))


def _dispersion(
    y: np.ndarray, w: np.ndarray, mu: np.ndarray, noise: np.ndarray, p: int
) -> np.ndarray:
    """φ ≥ 1 from the residuals with the noise variance taken out (moment estimate)."""
    used = (w > 0).sum(0)
    excess = w * ((y - mu) ** 2 - noise) / mu
    return np.maximum(1.0, excess.sum(0) / np.maximum(used - p, 1))


def _fit(
    y: np.ndarray, w: np.ndarray, x: np.ndarray, noise: np.ndarray, threshold: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Fit, estimate φ, down-weight outliers, fit again; beta, cov, φ, fitted means."""
    p, ones = x.shape[1], np.ones(y.shape[1])
    beta, mu, cov = _irls(y, w, x, noise, ones)
    phi = _dispersion(y, w, mu, noise, p)
    ww = w * mu * mu / (mu + noise)  # the weights of that fit (φ = 1), as ``cov`` is
    hat = np.einsum("ip,mpq,iq->im", x, cov, x, optimize=True) * ww
    resid = (y - mu) / np.sqrt((phi * mu + noise) * np.clip(1.0 - hat, 1e-3, None))
    big = resid > threshold
    omega = np.where(big, 1.0 / np.maximum(resid, 1e-9) ** 2, 1.0) * w
    omega *= w.sum(0) / np.maximum(omega.sum(0), 1e-9)
    beta, mu, _ = _irls(y, omega, x, noise, phi, start=beta)
    phi = _dispersion(y, omega, mu, noise, p)
    beta, mu, cov = _irls(y, omega, x, noise, phi, start=beta)
    return beta, cov, phi, mu


def fit_baseline(
    y: np.ndarray, usable: np.ndarray, noise: np.ndarray, t: int, d: Design
) -> Baseline:
    """The expected value of week ``t`` for every column of ``y`` (weeks × columns),
    from the reference weeks before it; ``usable`` marks weeks a baseline may use."""
    weeks, x = design(t, d)
    m = y.shape[1]
    if len(weeks) == 0:
        return Baseline(np.zeros(m), np.zeros(m), np.ones(m), np.zeros(m, bool))
    yr, w, nr = y[weeks], usable[weeks].astype(float), noise[weeks]
    yr = np.where(w > 0, yr, 0.0)
    present = x[:, 2:].T @ w > 0  # blocks with data, per column (periods-1 × m)
    keep = np.concatenate([[True, True], present.any(1)])
    x = x[:, keep]
    in_window = x[:, 2:].sum(1) == 0
    enough = (w.sum(0) >= d.min_reference) & ((w * in_window[:, None]).sum(0) >= 2)
    b_t, cov_t, phi_t, _ = _fit(yr, w, x, nr, d.reweight_threshold)
    x0 = np.delete(x, 1, axis=1)
    b_0, cov_0, phi_0, _ = _fit(yr, w, x0, nr, d.reweight_threshold)
    z_trend = b_t[:, 1] / np.sqrt(np.maximum(cov_t[:, 1, 1], 1e-12))
    top = np.where(w > 0, yr, -np.inf).max(0)
    use_trend = (np.abs(z_trend) >= 1.96) & (np.exp(b_t[:, 0]) <= np.maximum(top, 1.0))
    use_trend &= (weeks[-1] - weeks[0]) >= 26
    mu = np.where(use_trend, np.exp(b_t[:, 0]), np.exp(b_0[:, 0]))
    var_eta = np.where(use_trend, cov_t[:, 0, 0], cov_0[:, 0, 0])
    phi = np.where(use_trend, phi_t, phi_0)
    return Baseline(mu, var_eta, phi, enough)
