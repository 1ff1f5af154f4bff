"""Denominators: persons per region and per age band released once through the gateway (charged
once, a second call costs and changes nothing; birth_year must be allowed), close to the truth at
their noise; rates per 100,000 with intervals that
carry both the count's and the denominator's noise; not a series of the monitor."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from enclave.indicators import indicators_of, series_rows
from enclave.indicators._bands import age_bands_of
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
    assert first["released"] and first["releases"] == ["persons", "persons-by-age"]
    assert first["epsilon_spent"] == pytest.approx(0.3)  # 0.2 per region, 0.1 per age band
    assert not again["released"] and again["epsilon_spent"] == 0.0
    assert _spent(settings) == pytest.approx(before + 0.3)
    denoms = denominators_of(settings)
    assert len(denoms) == 22
    total = sum(v for v, _ in denoms.values())
    assert abs(total - 2000) < 6 * 22**0.5 * next(iter(denoms.values()))[1]
    bands = age_bands_of(settings)
    assert [b["band"] for b in bands] == [f"{a}–{a + 9}" for a in range(0, 90, 10)] + ["90+"]
    assert abs(sum(b["persons"] for b in bands) - 2000) < 6 * 14 * 14**0.5
    assert all(b["ci_low"] <= b["persons"] <= b["ci_high"] for b in bands)
    # Both are public, but not weekly series of the monitor (they are the only releases).
    releases = Published(published_path(settings.home)).releases(status="published")
    assert sorted(r.period for r in releases) == ["persons", "persons-by-age"]
    assert {r.indicator for r in releases} == {"denominators"}
    assert series_rows(releases) == []


def test_the_age_bands_need_birth_year_in_the_project(tmp_path: Path) -> None:
    """The age bands go through the gateway: a project not allowed birth_year is refused
    (nothing charged for them; the regions, released first, are kept)."""
    from enclave.errors import PolicyViolation
    from enclave.service import Service
    from tests._data import ingested_home

    shutil.copytree(REPO_POLICIES, tmp_path / "policies")
    project = tmp_path / "policies" / "projects" / "public-health.toml"
    text = project.read_text(encoding="utf-8")
    project.write_text(text.replace(', "birth_year"]', "]"), encoding="utf-8")
    other = Settings.from_environ(
        {"ENCLAVE_HOME": str(tmp_path / "home"), "ENCLAVE_POLICIES": str(tmp_path / "policies")}
    )
    ingested_home(other, 300, seed=5, extract=tmp_path / "x")
    svc = Service.open(other)
    try:
        with pytest.raises(PolicyViolation, match="birth_year"):
            release_denominators(svc, other, indicators_of(other)[0])
    finally:
        svc.close()
    assert _spent(other) == pytest.approx(0.2)  # the regions went through first
    assert age_bands_of(other) == [] and len(denominators_of(other)) == 22


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
