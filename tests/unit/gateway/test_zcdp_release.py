"""A zcdp project through the gateway's stages: the plan's ρ split, discrete Gaussian totals
whose noise has the stated std and whose 95% intervals cover, the ε split contract, the
pure pieces at √(2ρ), half_width asks met, the loss check in ρ, and pure plans unchanged.

The plan and back-half stages up to ``add_noise`` run once; ``add_noise`` is then run
2,000 times on the same exact bounded totals (as ``test_statistics`` does for Laplace).
"""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path

import numpy as np
import pytest

from enclave.errors import InternalError, PolicyError
from enclave.gateway.pipeline import BACK
from enclave.gateway.plan.accounting import COMPOSITION_ZCDP, pure_epsilon
from enclave.gateway.plan.pieces import AUTO, COMPOSITION, SELECTION
from enclave.gateway.plan.planner import plan
from enclave.gateway.release.losses import verify_losses
from enclave.gateway.release.noise import add_noise
from enclave.gateway.values import Measurement
from enclave.noise import discrete_gaussian_std
from enclave.policy import accounting_of, load_project_policy, pure_rho
from tests._warehouse import build, context, front, noise_draws, run

RUNS = 2000
SQL = "SELECT count(*) AS n, sum(least(amount, 1000)) AS s, avg(los_days) AS a FROM claims"


def zcdp_context(ctx):
    demo = dataclasses.replace(
        ctx.projects["demo"], accounting="zcdp", max_epsilon_per_query=5.0, review_epsilon=None
    )
    return dataclasses.replace(ctx, projects={**ctx.projects, "demo": demo})


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory) -> Path:
    return build(tmp_path_factory.mktemp("wh") / "w.duckdb", persons=600)


@pytest.fixture(scope="module")
def exact_state(warehouse, tmp_path_factory):
    ctx = zcdp_context(context(warehouse, tmp_path_factory.mktemp("h"), rows_per_person=5))
    state = front(SQL, ctx, epsilon=1.0)
    for stage in (plan, *BACK[:-1]):
        state = stage(state, ctx)
    return state, ctx


def test_plan_splits_rho_in_the_shares_of_epsilon(exact_state):
    state, _ = exact_state
    p = state.plan
    acc = accounting_of(state.project)
    assert p.epsilon == 1.0 and p.rho == acc.rho(1.0) and acc.epsilon(p.rho) <= 1.0
    assert p.rho_split.keys() == p.epsilon_split.keys()
    for k in p.rho_split:
        assert p.rho_split[k] / p.rho == pytest.approx(p.epsilon_split[k] / p.epsilon)
    assert sum(p.rho_split.values()) == pytest.approx(p.rho)


@pytest.mark.slow
def test_gaussian_noise_has_its_std_and_intervals_cover(exact_state):
    state, _ = exact_state
    p = state.plan
    (n_exact, s_exact, a_sum, a_cnt), mech, col = noise_draws(*exact_state, RUNS)
    for piece, name in (("a0", "n"), ("a1", "s")):
        assert mech[piece]["mechanism"].startswith("discrete_gaussian")
        sigma = mech[piece]["scale"]
        assert sigma == pytest.approx(
            mech[piece]["sensitivity_l2"] / math.sqrt(2 * p.rho_split[piece]), rel=1e-5
        )
        assert col[f"{name}_se"][0] == pytest.approx(discrete_gaussian_std(sigma), rel=1e-6)
    # the empirical noise std is the declared se (2,000 draws: ~1.6% standard error)
    assert np.std(col["n"] - n_exact) == pytest.approx(col["n_se"][0], rel=0.08)
    assert np.std(col["s"] - s_exact) == pytest.approx(col["s_se"][0], rel=0.08)
    covers = {}
    for name, exact in (("n", n_exact), ("s", s_exact)):
        covers[name] = np.mean((col[f"{name}_ci_low"] <= exact) & (exact <= col[f"{name}_ci_high"]))
    a_exact = a_sum / a_cnt
    covers["a"] = np.mean((col["a_ci_low"] <= a_exact) & (a_exact <= col["a_ci_high"]))
    print(f"zcdp coverage of the 95% intervals over {RUNS} releases: {covers}")
    assert 0.93 <= covers["n"] <= 0.975 and 0.93 <= covers["s"] <= 0.975
    assert covers["a"] >= 0.94  # AVG: union bound, at least 95%


def test_release_keeps_the_epsilon_split_contract_and_states_rho(exact_state):
    state, ctx = exact_state
    noised = add_noise(state, ctx)
    release, p = noised.release, state.plan
    mech = release.mechanisms
    assert release.composition == COMPOSITION_ZCDP
    assert sum(mech["epsilon_split"].values()) == pytest.approx(release.epsilon_spent)
    assert mech["rho_split"] == dict(p.rho_split)
    assert mech["accounting"]["rho"] == p.rho and mech["accounting"]["conversion_delta"] == 5e-7
    for piece in ("a0", "a1", "a2.sum", "a2.count"):
        assert mech[piece]["rho"] == p.rho_split[piece]
        assert mech[piece]["epsilon"] == p.epsilon_split[piece]
    # the measured-loss check covers the Gaussian pieces, in ρ
    verify_losses(
        p.epsilon_split, p.epsilon, p.delta, noised.measurements, rho_split=p.rho_split, rho=p.rho
    )
    totals = [m for m in noised.measurements if not m.piece.endswith(".clamp")]
    assert all(m.rho > 0 and m.epsilon == 0 for m in totals)
    # a value clamp's histogram is a pure ε-DP piece, charged ε²/2 of ρ
    clamps = [m for m in noised.measurements if m.piece.endswith(".clamp")]
    assert all(m.epsilon > 0 and m.rho == 0 for m in clamps)
    half = {k: v / 2 for k, v in p.rho_split.items()}
    with pytest.raises(InternalError, match="more ρ than its share"):
        verify_losses(
            p.epsilon_split, p.epsilon, p.delta, noised.measurements, rho_split=half, rho=p.rho
        )
    with pytest.raises(InternalError, match="more ρ than was charged"):
        verify_losses(
            p.epsilon_split,
            p.epsilon,
            p.delta,
            noised.measurements,
            rho_split=p.rho_split,
            rho=p.rho / 2,
        )


def test_pure_pieces_run_at_the_epsilon_of_their_rho(warehouse, tmp_path):
    ctx = zcdp_context(context(warehouse, tmp_path))  # "auto" rows bound
    state = run(
        front("SELECT icd10, COUNT(*) AS n FROM claims GROUP BY icd10", ctx, epsilon=2.0), ctx
    )
    p, mech = state.plan, state.release.mechanisms
    ran = {m.piece: m for m in state.measurements}
    for piece in (AUTO, SELECTION):
        assert pure_epsilon(p, piece) == pytest.approx(math.sqrt(2 * p.rho_split[piece]))
        assert ran[piece].epsilon <= pure_epsilon(p, piece) * (1 + 1e-9)
        assert pure_rho(ran[piece].epsilon) <= p.rho_split[piece] * (1 + 1e-9)
        assert mech[piece]["pure_epsilon"] == pytest.approx(pure_epsilon(p, piece))
    assert mech[SELECTION]["epsilon"] == p.epsilon_split[SELECTION]
    assert 0 < p.delta <= accounting_of(state.project).keys_delta / 10


@pytest.mark.parametrize("rows", [5, "auto"])
@pytest.mark.parametrize(
    "sql,width",
    [
        ("SELECT COUNT(*) AS v FROM claims", 40.0),
        ("SELECT SUM(least(amount, 1000)) AS v FROM claims", 40_000.0),
    ],
)
def test_half_width_is_met_by_the_gaussian(warehouse, tmp_path, rows, sql, width):
    ctx = zcdp_context(context(warehouse, tmp_path, rows_per_person=rows))
    state = run(front(sql, ctx, half_width=width), ctx)
    release = state.release
    (row,) = release.rows
    rec = dict(zip(release.columns, row, strict=True))
    assert (rec["v_ci_high"] - rec["v_ci_low"]) / 2 <= width * (1 + 1e-9)
    assert release.mechanisms["a0"]["mechanism"].startswith("discrete_gaussian")
    acc = accounting_of(state.project)
    assert acc.epsilon(state.plan.rho) <= release.epsilon_spent
    assert release.epsilon_spent == pytest.approx(acc.epsilon(state.plan.rho), rel=1e-4)


def test_pure_plans_and_releases_are_as_before(warehouse, tmp_path):
    ctx = context(warehouse, tmp_path, rows_per_person=5)
    state = run(front(SQL, ctx, epsilon=1.0), ctx)
    assert state.plan.rho == 0.0 and state.plan.rho_split == {}
    mech = state.release.mechanisms
    assert "rho_split" not in mech and "accounting" not in mech
    assert state.release.composition == COMPOSITION
    assert mech["a0"]["mechanism"] == "discrete_laplace (OpenDP, exact integer totals)"
    assert not any("rho" in m for m in mech.values() if isinstance(m, dict))
    assert all(isinstance(m, Measurement) and m.rho == 0.0 for m in state.measurements)


ZCDP_PROJECT = """
[project]
id = "z"
members = ["a@x"]
epsilon = 2.0
delta = {delta}
accounting = "{accounting}"
[project.tables]
persons = ["region"]
"""


def test_policy_chooses_the_accounting(tmp_path):
    path = tmp_path / "z.toml"
    path.write_text(ZCDP_PROJECT.format(delta=1e-6, accounting="zcdp"), encoding="utf-8")
    assert load_project_policy(path).accounting == "zcdp"
    for delta, accounting in ((0.0, "zcdp"), (1e-6, "renyi")):
        path.write_text(ZCDP_PROJECT.format(delta=delta, accounting=accounting), encoding="utf-8")
        with pytest.raises(PolicyError, match='accounting must be "pure" or "zcdp"'):
            load_project_policy(path)
    path.write_text(ZCDP_PROJECT.replace('accounting = "{accounting}"\n', "").format(delta=0.0))
    assert load_project_policy(path).accounting == "pure"
