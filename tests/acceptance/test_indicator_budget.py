"""The standing indicators in the budgets: the ledger charge per indicator-year, the
steward's per-dataset loss view (per year and lifetime, in the ledger's ε), and the demo
and CLI flow on a fresh ENCLAVE_HOME."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from dashboards._dataset_budget import indicator_rows
from enclave.cli import app as cli
from enclave.service import Service, release_indicators
from enclave.settings import REPO_POLICIES, Settings
from enclave.store import Principal
from tests._warehouse import build

STEWARD = Principal(user="steward@test", role="steward", token_id="t")


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    shutil.copytree(REPO_POLICIES, tmp_path / "policies")
    home = tmp_path / "home"
    home.mkdir()
    build(home / "warehouse.duckdb", persons=300, seed=2)
    return Settings.from_environ(
        {"ENCLAVE_HOME": str(home), "ENCLAVE_POLICIES": str(tmp_path / "policies")}
    )


def test_dataset_view_shows_the_indicators_per_year_and_lifetime(settings: Settings) -> None:
    svc = Service.open(settings)
    try:
        svc.store.accounts.add_user(STEWARD.user, "steward")
        empty = svc.dataset_loss(STEWARD)
        assert empty.indicators_epsilon_lifetime == 0 and empty.indicators_epsilon_by_year == {}
        assert {i["indicator"] for i in empty.indicators} == {"ili", "covid", "emergency"}
        for week in ("2023-01-02", "2023-05-01", "2024-02-05"):
            release_indicators(settings, indicator="ili", period=week, service=svc)
        release_indicators(settings, indicator="covid", period="2023-07-03", service=svc)
        view = svc.dataset_loss(STEWARD)
        assert view.indicators_epsilon_by_year == {"2023": 3.2, "2024": 1.6}
        assert view.indicators_epsilon_lifetime == pytest.approx(4.8)
        ili = next(i for i in view.indicators if i["indicator"] == "ili")
        assert ili["epsilon_by_year"] == {"2023": 1.6, "2024": 1.6}
        assert (ili["periods_per_year"], ili["epsilon_per_year"]) == (2, 1.6)
        # Same units as the project's line: the lifetime so far is what the ledger charged.
        share = next(p for p in view.projects if p.project == "public-health")
        assert share.epsilon_spent == pytest.approx(view.indicators_epsilon_lifetime)
        assert share.epsilon == 14.7  # what the indicators may still spend counts in the total
        data = json.loads(json.dumps(svc.dataset_budget(STEWARD)))
        assert data["indicators_epsilon_by_year"] == {"2023": 3.2, "2024": 1.6}
        rows = indicator_rows(data)
        assert rows[-1]["indicator"] == "all (one person)" and rows[-1]["ε lifetime"] == 4.8
        assert rows[-1]["ε 2023"] == 3.2
    finally:
        svc.close()


def test_cli_dataset_budget_prints_the_indicators(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ENCLAVE_HOME", str(settings.home))
    monkeypatch.setenv("ENCLAVE_POLICIES", str(settings.policies_dir))
    monkeypatch.delenv("ENCLAVE_TOKEN", raising=False)
    monkeypatch.delenv("ENCLAVE_URL", raising=False)
    svc = Service.open(settings)
    try:
        svc.store.accounts.add_user("admin@local", "steward")
        release_indicators(settings, indicator="emergency", period="2024-03-04", service=svc)
    finally:
        svc.close()
    out = CliRunner().invoke(cli, ["budget", "dataset"])
    assert out.exit_code == 0, out.output
    assert "Standing indicators" in out.output and "ε 2024" in out.output
    assert "emergency" in out.output


def _enclave(home: Path, *args: str) -> dict:
    env = {**os.environ, "ENCLAVE_HOME": str(home)}
    for name in ("ENCLAVE_POLICIES", "ENCLAVE_TOKEN", "ENCLAVE_URL"):
        env.pop(name, None)
    done = subprocess.run(
        [sys.executable, "-m", "enclave", *args], env=env, capture_output=True, text=True,
        timeout=600, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout)


@pytest.mark.slow
def test_demo_then_budget_shows_the_two_year_total(tmp_path: Path) -> None:
    home = tmp_path / "enclave-home"
    demo = _enclave(home, "demo", "--no-serve", "--json", "--persons", "3000")
    assert {"project", "token", "steward_token", "api_url", "dashboard_url"} <= set(demo)
    budget = _enclave(home, "budget", "--project", "public-health", "--json")
    print(f"public-health after the demo: {budget}")
    # 3 indicators × 2 years × 1.6, and the denominators (per region 0.2, per age band 0.1)
    assert budget["epsilon_spent"] == pytest.approx(9.9)
    assert budget["epsilon_total"] == pytest.approx(14.7)
    assert budget["epsilon_remaining"] == pytest.approx(4.8)  # one more year, no top-up
    again = _enclave(home, "indicators", "release", "--all", "--json")
    assert again["released"] == 0 and again["epsilon_spent"] == 0 and again["refused"] == 0
    assert _enclave(home, "budget", "--project", "public-health", "--json") == budget

    from enclave.api._public import public_releases

    svc = Service.open(Settings(home=home))
    try:  # the handler of GET /v1/releases/public, through JSON
        releases = json.loads(json.dumps(public_releases(svc)))["releases"]
    finally:
        svc.close()
    assert len(releases) == 315 + 2  # every indicator-week, and the two denominators
    denominators = [r for r in releases if r["indicator"] == "denominators"]
    assert sorted(r["period"] for r in denominators) == ["persons", "persons-by-age"]
    assert sum(r["epsilon"] for r in denominators) == pytest.approx(0.3)
    releases = [r for r in releases if r["indicator"] != "denominators"]
    first = releases[0]
    assert first["columns"] == ["region", "value", "value_se", "value_ci_low", "value_ci_high"]
    acc = first["accounting"]
    assert (acc["periods_per_year"], acc["epsilon_per_year"]) == (2, 1.6)
    assert sum(r["epsilon"] for r in releases) == pytest.approx(9.6)
    assert max(row[2] for r in releases for row in r["rows"]) <= 2.0  # weekly SE
