"""Three outbreak detectors on released (noisy) weekly series, each aware of the noise.

A *panel* is one indicator's weekly released values for every region (weeks × regions),
with each value's noise standard error and scale, and which weeks a baseline may use
(published, complete weeks: not provisional). Every detector gives each cell a
:class:`Verdict` — its level (``alert``, ``warning`` or ``none``), the observed and the
expected value, the value above which the week is an alert, the detector's score and
how often a value at least this large comes by chance without an outbreak.

* ``farrington``: the noise-aware quasi-Poisson regression of ``_regression`` (seasonal
  blocks, trend, past outbreaks down-weighted); the thresholds are quantiles of the
  released value's own distribution (negative binomial counts plus the release's discrete
  Laplace noise, clipped at 0: ``_predictive``).
* ``cusum``: a one-sided CUSUM of the weeks' z-scores under that same distribution (so
  the noise and the baseline's own uncertainty are in every z), fitted without the last
  ``exclude_recent`` weeks so an outbreak does not become its own baseline.
* ``ears``: the CDC's C1, C2 and C3 (``_ears``), with the noise variance added to σ.

For every detector, a warning or an alert needs the week's own value to be at least
``min_excess`` above the expected value: so a value of 0, or a week below its baseline,
is never flagged (EARS C3 alone would carry earlier weeks forward); and the thresholds of
the regression and the CUSUM assume at least ``min_expected`` persons, so a baseline of
zeros does not turn a little release noise into an alert.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from statistics import NormalDist
from typing import Literal

import numpy as np

from enclave.indicators._alert_config import AlertConfig
from enclave.indicators._ears import ears
from enclave.indicators._predictive import Predictive
from enclave.indicators._regression import Baseline, Design, fit_baseline

__all__ = ["Panel", "Verdict", "cusum", "detect", "ears_verdicts", "farrington"]

Level = Literal["alert", "warning", "none"]
Status = Literal["ok", "no_baseline", "provisional", "missing"]
_NORMAL = NormalDist()


@dataclass(frozen=True)
class Panel:
    """Weeks × regions: released values (NaN where missing), noise SE and scale, and
    which cells a baseline may use."""

    values: np.ndarray
    se: np.ndarray
    scale: np.ndarray
    usable: np.ndarray


@dataclass(frozen=True)
class Verdict:
    detector: str
    level: Level
    status: Status
    observed: float | None = None
    expected: float | None = None
    threshold: float | None = None
    score: float | None = None
    p_value: float | None = None


def _baselines(panel: Panel, design: Design) -> list[Baseline]:
    y = np.nan_to_num(panel.values, nan=0.0)
    usable = panel.usable & ~np.isnan(panel.values)
    noise = panel.se**2
    return [fit_baseline(y, usable, noise, t, design) for t in range(len(y))]


def _status(panel: Panel, t: int, j: int, ok: bool) -> Status:
    if math.isnan(panel.values[t, j]):
        return "missing"
    if not panel.usable[t, j]:
        return "provisional"
    return "ok" if ok else "no_baseline"


def _predictive(panel: Panel, base: Baseline, t: int, j: int, floor: float) -> Predictive:
    """The released value's distribution with no outbreak (the expected count floored at
    ``floor``: a baseline of zeros is not evidence of a true zero)."""
    fitted = float(base.mu[j])
    mu = max(fitted, floor)
    # The estimate's own uncertainty, on the fitted mean (a log-scale variance from a
    # near-empty baseline is capped: it says little about the count's spread).
    var = float(base.phi[j]) * mu + fitted * fitted * min(float(base.var_eta[j]), 1.0)
    return Predictive.of(mu, var, float(panel.scale[t, j]))


def _gate(level: Level, y: float, expected: float, min_excess: float) -> Level:
    """No flag unless the week's own value is ``min_excess`` above expected (and > 0)."""
    return level if y > 0 and y >= expected + min_excess else "none"


def farrington(
    panel: Panel, cfg: AlertConfig, baselines: list[Baseline] | None = None
) -> list[list[Verdict]]:
    """The regression detector's verdict for every (week, region)."""
    fc = cfg.farrington
    out: list[list[Verdict]] = []
    for t, base in enumerate(baselines or _baselines(panel, fc.design)):
        row = []
        for j in range(panel.values.shape[1]):
            status = _status(panel, t, j, bool(base.ok[j]))
            if status in ("missing", "no_baseline") or not base.ok[j]:
                y = None if status == "missing" else float(panel.values[t, j])
                row.append(Verdict("farrington", "none", status, y))
                continue
            y, pred = float(panel.values[t, j]), _predictive(panel, base, t, j, cfg.min_expected)
            alert, warn = pred.quantile(1 - fc.alpha_alert), pred.quantile(1 - fc.alpha_warning)
            level: Level = "alert" if y > alert else "warning" if y > warn else "none"
            mu = float(base.mu[j])
            level = _gate(level, y, mu, cfg.min_excess) if status == "ok" else "none"
            p = pred.upper_tail(y)
            score = -math.log10(max(p, 1e-12))
            row.append(Verdict("farrington", level, status, y, mu, float(alert), score, p))
        out.append(row)
    return out


def _cusum_cell(
    panel: Panel, base: Baseline, t: int, j: int, s_prev: float, cfg: AlertConfig
) -> tuple[Verdict, float]:
    cc = cfg.cusum
    y, pred = float(panel.values[t, j]), _predictive(panel, base, t, j, cfg.min_expected)
    mu, z = float(base.mu[j]), pred.z(y)
    s = min(cc.cap, max(0.0, s_prev + z - cc.reference))
    level: Level = "alert" if s >= cc.alert else "warning" if s >= cc.warning else "none"
    level = _gate(level, y, mu, cfg.min_excess) if z > 0 else "none"
    need = min(cc.alert - s_prev + cc.reference, 7.9)  # z this week needs for an alert
    threshold = float(max(pred.quantile(_NORMAL.cdf(need)), math.ceil(mu + cfg.min_excess) - 1))
    return Verdict("cusum", level, "ok", y, mu, threshold, s, pred.upper_tail(y)), s


def _cusum_design(cfg: AlertConfig) -> Design:
    design = cfg.farrington.design
    cc = cfg.cusum
    return Design(
        **{**design.__dict__, "exclude_recent": cc.exclude_recent,
           "recent_in_window": cc.recent_in_window}
    )  # fmt: skip


def cusum(
    panel: Panel, cfg: AlertConfig, baselines: list[Baseline] | None = None
) -> list[list[Verdict]]:
    """The CUSUM detector's verdict for every (week, region); weeks without a verdict
    (missing, provisional, no baseline) leave the sum as it was."""
    sums = np.zeros(panel.values.shape[1])
    out: list[list[Verdict]] = []
    for t, base in enumerate(baselines or _baselines(panel, _cusum_design(cfg))):
        row = []
        for j in range(panel.values.shape[1]):
            status = _status(panel, t, j, bool(base.ok[j]))
            if status != "ok":
                v = Verdict("cusum", "none", status)
                if status == "provisional":
                    mu = float(base.mu[j]) if base.ok[j] else None
                    v = Verdict("cusum", "none", status, float(panel.values[t, j]), mu)
                row.append(v)
                continue
            verdict, sums[j] = _cusum_cell(panel, base, t, j, float(sums[j]), cfg)
            row.append(verdict)
        out.append(row)
    return out


def ears_verdicts(panel: Panel, cfg: AlertConfig) -> list[list[Verdict]]:
    """EARS C1–C3 verdicts; expected is the C1 baseline mean, threshold its 3σ line."""
    n_weeks, n_regions = panel.values.shape
    out: list[list[Verdict]] = [[] for _ in range(n_weeks)]
    floor = cfg.ears.min_sigma
    for j in range(n_regions):
        vals = [None if math.isnan(v) else float(v) for v in panel.values[:, j]]
        noise = [float(s) ** 2 for s in panel.se[:, j]]
        for t, res in enumerate(ears(vals, noise, min_sigma=floor)):
            status = _status(panel, t, j, res.level != "grey")
            if status in ("missing", "no_baseline"):
                out[t].append(Verdict("ears", "none", status))
                continue
            base = [v for v in vals[max(0, t - 7) : t] if v is not None]
            mean = sum(base) / len(base)
            sd = math.sqrt(sum((v - mean) ** 2 for v in base) / max(len(base) - 1, 1))
            sigma = max(floor, math.sqrt(sd * sd + noise[t]))
            y = float(vals[t] or 0.0)
            level: Level = {"red": "alert", "yellow": "warning"}.get(res.level, "none")  # type: ignore[assignment]
            level = _gate(level, y, mean, cfg.min_excess) if status == "ok" else "none"
            out[t].append(Verdict("ears", level, status, y, mean, mean + 3 * sigma, res.strength))
    return out


def detect(panel: Panel, cfg: AlertConfig) -> dict[str, list[list[Verdict]]]:
    """Every detector's verdicts for one panel, by detector name (the regression is
    fitted once when both detectors use the same design)."""
    design = cfg.farrington.design
    shared = _baselines(panel, design)
    cusum_design = _cusum_design(cfg)
    return {
        "farrington": farrington(panel, cfg, shared),
        "cusum": cusum(panel, cfg, shared if cusum_design == design else None),
        "ears": ears_verdicts(panel, cfg),
    }
