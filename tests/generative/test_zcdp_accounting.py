"""zCDP accounting as deployed: a session's cost against pure ε-DP, and the privacy of the
discrete Gaussian through the gateway's own stages on neighbouring warehouses.

* The 100-query session (``bench/accounting.py``): the same 100 COUNT queries at equal SE,
  once in a pure project at ε = 0.1 each and once in a zcdp project; the ledger charges
  the pure session ε = 10 and the zcdp one ρ = 0.25, which OpenDP's conversion shows as
  ε ≈ 3.5 at δ = 1e-6. The figures are printed.
* Stochastic privacy (``tests/_dp_tester``, as ``test_privacy_stochastic``): a zcdp count
  and sum released on a warehouse and on its neighbour with one adversarial person added;
  the empirical (ε, δ) loss at δ = ``DELTA`` stays within the ε that OpenDP's conversion
  gives the piece's ρ at that δ, and a neighbour ``broken`` persons away is seen past it.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest

from bench.accounting import computed, measured
from enclave.policy import epsilon_of_rho
from tests._dp_gateway import Person, Releases, cell, gateway_context, with_persons
from tests._dp_tester import empirical_loss, threshold_events
from tests._warehouse import build

ALPHA = 1e-6
DELTA = 1e-3
PILOT = 400


def test_a_100_query_session_costs_less_epsilon_under_zcdp(fresh_home) -> None:
    want = computed(100, 0.1, 1e-6, 1)
    got = measured(fresh_home(), 100, 0.1, 1e-6, 1)
    print(
        f"100 COUNT queries at equal SE ({want['se_per_query']:.4g}): pure ε-DP total ε = "
        f"{got['pure_epsilon_spent']:g}; zCDP total ρ = {got['zcdp_rho_spent']:.4g} → ε = "
        f"{got['zcdp_epsilon_spent']:.3f} at δ = {got['zcdp_conversion_delta']:g} "
        f"(computed {want['zcdp_epsilon_total']:.3f})"
    )
    for se in (*got["pure_se"], *got["zcdp_se"]):  # the same standard error, every query
        assert se == pytest.approx(want["se_per_query"], rel=1e-4)
    assert got["pure_epsilon_spent"] == pytest.approx(10.0)
    assert got["zcdp_rho_spent"] == pytest.approx(want["zcdp_rho_total"], rel=1e-6)
    assert got["zcdp_epsilon_spent"] == pytest.approx(want["zcdp_epsilon_total"], rel=1e-6)
    assert got["zcdp_conversion_delta"] == 1e-6
    assert got["zcdp_epsilon_spent"] < min(4.0, got["pure_epsilon_spent"] / 2.5)


def _zcdp(ctx):
    demo = dataclasses.replace(ctx.projects["demo"], accounting="zcdp")
    return dataclasses.replace(ctx, projects={**ctx.projects, "demo": demo})


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build(tmp_path_factory.mktemp("dpz") / "base.duckdb", persons=400, seed=7)


CASES = [
    ("count", "SELECT COUNT(*) AS n FROM claims", "n", 4),
    # the Gaussian sum itself: a fixed clamp (an "auto" one spends 20% of ε on its choice,
    # a pure ε-DP piece tested in test_privacy_stochastic)
    ("sum", "SELECT SUM(LEAST(amount, 20000)) AS s FROM claims", "s", 4),
]


@pytest.mark.slow
@pytest.mark.parametrize("case", CASES, ids=lambda c: c[0])
def test_empirical_privacy_loss_of_the_gaussian_within_its_rho(case, base, tmp_path) -> None:
    name, sql, column, broken = case
    contribution = {"rows_per_person": 8, "groups_per_person": 4}
    worlds = [base] + [
        with_persons(base, tmp_path / f"d{k}.duckdb", [Person(50)] * k, seed=2 + k)
        for k in (1, broken)
    ]
    runs = [Releases(sql, _zcdp(gateway_context(w, tmp_path, **contribution)), 5.0) for w in worlds]
    release = runs[0].one()
    assert release.mechanisms["a0"]["mechanism"].startswith("discrete_gaussian")
    rho = release.mechanisms["a0"]["rho"]
    eps = epsilon_of_rho(rho, DELTA)
    statistic = cell(column)
    pilots = [r.draws(PILOT, statistic) for r in runs]
    draws = [r.draws(4000, statistic) for r in runs]
    losses = []
    for other in (1, 2):
        events = threshold_events(np.vstack([pilots[0], pilots[other]]))
        losses.append(empirical_loss(draws[0], draws[other], events, alpha=ALPHA, delta=DELTA))
    print(f"{name}: ρ = {rho:.4g}, ε = {eps:.3f} at δ = {DELTA:g}; neighbour {losses[0]}; "
          f"{broken} adversaries {losses[1]}")  # fmt: skip
    assert losses[0].lower <= eps, f"{name}: loss above ε({rho:.4g}, {DELTA:g}): {losses[0]}"
    assert losses[1].lower > eps, f"{name}: {broken}× the sensitivity not seen: {losses[1]}"
