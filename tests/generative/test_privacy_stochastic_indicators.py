"""Stochastic privacy test of the standing indicators' continual release (issue 14).

The released statistic is the weekly value of the adversary's region in the weeks where
the adversary qualifies — four weeks of one year, so the bound ``k = 2`` binds — drawn
from the deployed release: exact k-bounded counts read once per warehouse through the
scheduler's own SQL on the read-only engine (they are a deterministic function of the
warehouse), then ``noisy_week`` (OpenDP discrete Laplace, scale k / ε_year) per draw and
week, exactly as the scheduler calls it. With the estimator of ``tests/_dp_tester`` (events
cut at a pilot's quantiles, Chernoff bounds, Bonferroni), the simultaneous lower bound of
the empirical loss between a warehouse and its neighbour (one person added) must be at
most the yearly ε the release states. Power: the same estimator must find a loss above ε
against a neighbour with two such persons (twice the sensitivity).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pytest

from enclave.indicators import noisy_week
from tests._dp_tester import empirical_loss, threshold_events
from tests._indicator_worlds import add_person, indicator, year_counts
from tests._warehouse import REGIONS, build

pytestmark = pytest.mark.slow

ALPHA = 1e-6
PILOT, DRAWS = 400, 5000
#: The adversary's weeks (Mondays) of 2023: claims in each, so the first two count.
WEEKS = ("2023-03-06", "2023-03-13", "2023-03-20", "2023-03-27")
VISITS = [dt.date.fromisoformat(w) + dt.timedelta(days=d) for w in WEEKS for d in (1, 3)]


def _draws(counts: dict, n: int, k: int, eps: float) -> np.ndarray:
    """n draws of the released value of Taipei in each of WEEKS (the deployed mechanism)."""
    out = np.empty((n, len(WEEKS)))
    for i in range(n):
        for j, week in enumerate(WEEKS):
            week_counts = {r: c for (w, r), c in counts.items() if w == week}
            rows, _ = noisy_week(
                week_counts, REGIONS, k=k, epsilon_year=eps, year=2023, period=week
            )
            out[i, j] = rows[REGIONS.index("Taipei")][1]
    return out


def test_indicator_year_loss_within_its_yearly_epsilon(tmp_path: Path) -> None:
    base = build(tmp_path / "base.duckdb", persons=400, seed=7)
    one = add_person(base, tmp_path / "one.duckdb", VISITS)
    two = add_person(one, tmp_path / "two.duckdb", VISITS, token="e" * 16)
    ind = indicator("ili")
    k, eps = ind.periods_per_year, ind.epsilon_per_year
    counts = [year_counts(w, ind, 2023, WEEKS) for w in (base, one, two)]
    pilots = [_draws(c, PILOT, k, eps) for c in counts]
    draws = [_draws(c, DRAWS, k, eps) for c in counts]
    losses = []
    for other in (1, 2):
        events = threshold_events(np.vstack([pilots[0], pilots[other]]))
        losses.append(empirical_loss(draws[0], draws[other], events, alpha=ALPHA))
    print(f"indicator year: k = {k}, ε = {eps:g}; neighbour {losses[0]}; two persons {losses[1]}")
    assert losses[0].lower <= eps, f"loss above the yearly ε = {eps:g}: {losses[0]}"
    assert losses[1].lower > eps, f"the test cannot see twice the sensitivity: {losses[1]}"
