"""The noise-aware detectors: the released value's distribution, the regression baseline,
the CUSUM, EARS behind the same gate; no flag on a value of 0 or on a zero baseline;
provisional weeks never flagged nor used; settings from policies/indicators.toml."""

from __future__ import annotations

import math

import numpy as np
import pytest

from enclave.errors import PolicyError
from enclave.indicators import AlertConfig, Panel, detect, load_alerts
from enclave.indicators._alert_config import parse_alerts
from enclave.indicators._predictive import Predictive, scale_from_se
from enclave.indicators._regression import Design, design, fit_baseline
from enclave.noise import discrete_laplace_std
from enclave.settings import REPO_POLICIES

SCALE = 1.25  # the deployed k/ε = 2/1.6
SE = discrete_laplace_std(SCALE)


def _released(rng: np.random.Generator, truth: np.ndarray) -> np.ndarray:
    q = math.exp(-1.0 / SCALE)
    noise = rng.geometric(1 - q, truth.shape) - rng.geometric(1 - q, truth.shape)
    return np.maximum(0, truth + noise).astype(float)


def _panel(values: np.ndarray, usable: np.ndarray | None = None) -> Panel:
    shape = values.shape
    return Panel(
        values,
        np.full(shape, SE),
        np.full(shape, SCALE),
        np.ones(shape, bool) if usable is None else usable,
    )


def _levels(verdicts) -> np.ndarray:
    return np.array([[v.level for v in row] for row in verdicts])


def test_scale_from_se_inverts_the_noise_sd() -> None:
    for b in (0.5, 1.25, 3.0, 10.0):
        assert scale_from_se(discrete_laplace_std(b)) == pytest.approx(b, rel=1e-9)
    assert scale_from_se(0.0) == 0.0


def test_predictive_matches_a_simulation_of_the_release() -> None:
    rng = np.random.default_rng(3)
    truth = rng.poisson(4.0, size=200_000)
    sim = _released(rng, truth)
    pred = Predictive.of(4.0, 4.0, SCALE)
    for c in (0, 3, 8, 12):
        assert pred.cdf[c] == pytest.approx((sim <= c).mean(), abs=0.004)
    q = pred.quantile(0.99)
    assert (sim > q).mean() <= 0.0105
    assert abs(pred.z(float(np.median(sim)))) < 0.2


def test_regression_recovers_a_seasonal_mean_and_down_weights_a_past_outbreak() -> None:
    rng = np.random.default_rng(5)
    t = np.arange(110)
    mu = 30 * np.exp(0.5 * np.cos(2 * np.pi * t / 52))
    truth = rng.poisson(np.repeat(mu[:, None], 10, 1))
    clean = _released(rng, truth)
    hit = clean.copy()
    hit[60:63] *= 3  # an outbreak a year before the judged week
    usable, noise = np.ones_like(clean, bool), np.full_like(clean, SE**2)
    a = fit_baseline(clean, usable, noise, 108, Design())
    b = fit_baseline(hit, usable, noise, 108, Design())
    assert np.all(a.ok) and np.median(np.abs(a.mu / mu[108] - 1)) < 0.15
    assert np.median(b.mu / a.mu) < 1.15  # the old outbreak barely lifts the baseline


def test_block_0_is_past_years_once_a_year_of_history_exists() -> None:
    weeks, x = design(60, Design())
    same_time = x[:, 2:].sum(1) == 0  # block 0: no seasonal-block column set
    assert set(60 - weeks[same_time]) == {49, 50, 51, 52, 53, 54, 55}  # last year ± 3
    recent, _ = design(30, Design())
    assert {29, 28, 27} <= set(recent[design(30, Design())[1][:, 2:].sum(1) == 0])
    old = design(60, Design(recent_in_window=True))
    assert {59, 58, 57} <= set(old[0][old[1][:, 2:].sum(1) == 0])


def test_an_outbreak_just_after_the_seasons_peak_is_an_alert() -> None:
    """A sharp season whose peak comes 3 weeks earlier than last year's, and a doubling
    in the weeks after this year's peak: the peak just passed is not the expected value
    of the weeks after it, so the first week of the outbreak is red."""
    rng = np.random.default_rng(4)
    t = np.arange(104)
    peaks = np.where(t < 52, 16, 50)  # mid-April last year, three weeks earlier this year
    mu = 2 + 40 * np.exp(-0.5 * ((t - peaks) / 2.5) ** 2)
    found = 0
    for _ in range(20):
        truth = rng.poisson(np.repeat(mu[:, None], 5, 1))
        truth[54:57] += rng.poisson(mu[54:57, None] * np.ones((3, 5)))  # ×2 for 3 weeks
        lv = _levels(detect(_panel(_released(rng, truth)), AlertConfig())["farrington"])
        found += int((lv[54:57] == "alert").any(0).sum())
    assert found >= 90  # of 100 outbreaks


def test_a_planted_outbreak_is_found_and_noise_rarely_alerts() -> None:
    rng = np.random.default_rng(11)
    truth = rng.poisson(25.0, size=(104, 22))
    values = _released(rng, truth)
    values[90:93, 4] = _released(rng, rng.poisson(60.0, size=3))
    got = detect(_panel(values), AlertConfig())
    for name in ("farrington", "cusum"):
        lv = _levels(got[name])
        assert (lv[90:93, 4] == "alert").any(), name
        quiet = np.delete(lv[20:], 4, axis=1)
        assert (quiet == "alert").mean() < 0.01, name


def test_no_flag_on_a_zero_or_a_week_below_its_baseline() -> None:
    values = np.full((40, 3), 10.0)
    values[30:33] = 40.0  # an outbreak …
    values[33] = 0.0  # … then a week of 0
    values[34] = 9.0  # … and a week below its baseline
    got = detect(_panel(values), AlertConfig())
    for verdicts in got.values():
        lv = _levels(verdicts)
        assert (lv[33:35] == "none").all()
        assert (lv[30] == "alert").all()


def test_zero_baselines_do_not_turn_noise_into_alerts() -> None:
    """Nobody at all: the released values are noise only. The baseline of
    zeros does not lower the bar (thresholds assume ``min_expected`` persons), so alerts
    stay at about 1 cell in 10,000 — EARS, floored at σ = 1, flags several times more."""
    rng = np.random.default_rng(2)
    values = _released(rng, np.zeros((105, 22), int))
    got = detect(_panel(values), AlertConfig())
    for name in ("farrington", "cusum"):
        lv = _levels(got[name])
        assert (lv == "alert").mean() < 0.001, name
        assert (values[lv == "alert"] >= 8).all()
    assert (_levels(got["ears"]) == "alert").mean() > 0.003
    assert values.max() >= 6


def test_provisional_weeks_are_never_flagged_nor_used() -> None:
    values = np.full((40, 2), 10.0)
    values[-2:] = 60.0
    usable = np.ones_like(values, bool)
    usable[-2:] = False
    got = detect(_panel(values, usable), AlertConfig())
    for verdicts in got.values():
        assert all(v.status == "provisional" and v.level == "none" for v in verdicts[-1])
    assert got["farrington"][-1][0].expected == pytest.approx(10.0, abs=1.0)


def test_settings_come_from_the_policy_file() -> None:
    cfg = load_alerts(REPO_POLICIES / "indicators.toml")
    assert cfg.detector in ("farrington", "cusum", "ears")
    assert 0 < cfg.farrington.alpha_alert < cfg.farrington.alpha_warning
    for bad in (
        {"detector": "magic"},
        {"farrington": {"alpha_alert": 0.7}},
        {"cusum": {"nonsense": 1}},
        {"min_excess": "two"},
    ):
        with pytest.raises(PolicyError):
            parse_alerts(bad)
