"""Denominators: persons per region released once (charged once, a second call costs and
changes nothing), close to the truth at their noise; rates per 100,000 with intervals that
carry both the count's and the denominator's noise; not a series of the monitor."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from enclave.indicators import indicators_of, series_rows
from enclave.indicators._denominators import denominators_of, release_denominators, with_rates
from enclave.indicators._published import Published, published_path
from enclave.settings import REPO_POLICIES, Settings


@pytest.fixture(scope="module")
def settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    from tests._data import ingested_home

    root = tmp_path_factory.mktemp("denominators")
    shutil.copytree(REPO_POLICIES, root / "policies")
    s = Settings.from_environ(
        {"ENCLAVE_HOME": str(root / "home"), "ENCLAVE_POLICIES": str(root / "policies")}
    )
    ingested_home(s, 2000, seed=4, extract=root / "x")
    return s


def _spent(settings: Settings) -> float:
    from enclave.service import Service
    from enclave.store import BudgetLimits

    svc = Service.open(settings)
    try:
        limits = BudgetLimits.from_policy(svc.project_policy("public-health"))
        return float(svc.store.budget("public-health", limits).epsilon_spent)
    finally:
        svc.close()


def test_released_once_and_charged_once(settings: Settings) -> None:
    from enclave.service import Service

    ind = indicators_of(settings)[0]
    svc = Service.open(settings)
    try:
        before = _spent(settings)
        first = release_denominators(svc, settings, ind)
        again = release_denominators(svc, settings, ind)
    finally:
        svc.close()
    assert first["released"] and first["epsilon_spent"] == pytest.approx(0.2)
    assert not again["released"] and again["epsilon_spent"] == 0.0
    assert _spent(settings) == pytest.approx(before + 0.2)
    denoms = denominators_of(settings)
    assert len(denoms) == 22
    total = sum(v for v, _ in denoms.values())
    assert abs(total - 2000) < 6 * 22**0.5 * next(iter(denoms.values()))[1]
    # The release is public, but not a weekly series of the monitor (it is the only one).
    releases = Published(published_path(settings.home)).releases(status="published")
    assert [r.indicator for r in releases] == ["denominators"]
    assert series_rows(releases) == []


def test_rates_carry_both_noises() -> None:
    rows = [{"region": "A", "value": 20.0, "se": 2.0, "expected": 10.0, "threshold": 18.0},
            {"region": "A", "value": 0.0, "se": 2.0},
            {"region": "B", "value": 5.0, "se": 2.0}]  # fmt: skip
    got = with_rates(rows, {"A": (10_000.0, 100.0)})
    assert got[0]["rate"] == pytest.approx(200.0)
    se = 200.0 * ((2 / 20) ** 2 + (100 / 10_000) ** 2) ** 0.5
    assert got[0]["rate_ci_high"] - got[0]["rate"] == pytest.approx(1.96 * se)
    assert got[0]["expected_rate"] == pytest.approx(100.0)
    assert got[1]["rate"] == 0.0 and got[1]["rate_ci_high"] == pytest.approx(1.96 * 20.0)
    assert "rate" not in got[2]  # no denominator for B


def test_no_denominators_before_the_release(tmp_path: Path) -> None:
    assert denominators_of(Settings(home=tmp_path)) == {}
