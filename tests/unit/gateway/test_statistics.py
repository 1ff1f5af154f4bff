"""Released noise has the declared scale and the 95% intervals cover ≈ 95% of the time.

The plan and back-half stages up to ``add_noise`` run once; ``add_noise`` (the stage that releases) is
then run 2,000 times on the same exact bounded totals.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from enclave.gateway.pipeline import BACK
from enclave.gateway.plan.planner import plan
from tests._warehouse import build, context, front, noise_draws

RUNS = 2000


@pytest.fixture(scope="module")
def exact_state(tmp_path_factory):
    d = tmp_path_factory.mktemp("wh")
    ctx = context(build(d / "w.duckdb", persons=600), d, rows_per_person=5)
    state = front(
        "SELECT count(*) AS n, sum(least(amount, 1000)) AS s, avg(los_days) AS a FROM claims",
        ctx,
        epsilon=1.0,
    )
    for stage in (plan, *BACK[:-1]):
        state = stage(state, ctx)
    return state, ctx


@pytest.mark.slow
def test_noise_scale_and_coverage(exact_state):
    (n_exact, s_exact, a_sum, a_cnt), mech, col = noise_draws(*exact_state, RUNS)
    a_exact = a_sum / a_cnt
    b_n, b_s = mech["a0"]["scale"], mech["a1"]["scale"]
    # declared standard errors are the mechanisms' std (√2·b for Laplace)
    assert col["s_se"][0] == pytest.approx(math.sqrt(2) * b_s)
    assert col["n_se"][0] == pytest.approx(math.sqrt(2) * b_n, rel=0.01)
    # empirical noise std within a few % of the declared one (2,000 draws: ~2.5% s.e.)
    assert np.std(col["n"] - n_exact) == pytest.approx(col["n_se"][0], rel=0.08)
    assert np.std(col["s"] - s_exact) == pytest.approx(col["s_se"][0], rel=0.08)
    # 95% intervals cover the exact bounded value ≈ 95% of the time
    for name, exact in (("n", n_exact), ("s", s_exact)):
        cover = np.mean((col[f"{name}_ci_low"] <= exact) & (exact <= col[f"{name}_ci_high"]))
        assert 0.93 <= cover <= 0.97, name
    # AVG interval is conservative (union bound): at least 95%
    cover_a = np.mean((col["a_ci_low"] <= a_exact) & (a_exact <= col["a_ci_high"]))
    assert cover_a >= 0.94
    # never the exact value: every release differs from the exact totals
    assert np.mean(col["s"] == s_exact) == 0.0
