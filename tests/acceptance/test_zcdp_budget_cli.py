"""A zcdp project through the ``enclave`` command: a query's release states its ρ, and
``enclave budget --json`` shows ρ and the ε it implies (the table too); a refusal speaks
both units; pure projects' budgets are as they were."""

from __future__ import annotations

import json
import shutil

import pytest
from typer.testing import CliRunner

from enclave.cli import app
from enclave.settings import REPO_POLICIES
from tests._policies import write_project

RESEARCHER = "researcher@demo"
COUNT = "SELECT COUNT(*) AS n FROM claims"


@pytest.fixture
def run(fresh_home, tmp_path, monkeypatch):
    settings = fresh_home()
    policies = tmp_path / "policies"
    shutil.copytree(REPO_POLICIES, policies)
    write_project(
        policies, "zcdp", title="zCDP", members=[RESEARCHER], epsilon=3.0, per_query=2.5,
        tables=("claims",), delta=1e-6, accounting="zcdp",
    )  # fmt: skip
    monkeypatch.setenv("ENCLAVE_HOME", str(settings.home))
    monkeypatch.setenv("ENCLAVE_POLICIES", str(policies))
    monkeypatch.delenv("ENCLAVE_URL", raising=False)
    monkeypatch.delenv("ENCLAVE_TOKEN", raising=False)
    runner = CliRunner()

    def invoke(*args: str, code: int = 0, token: str | None = None):
        env = {"ENCLAVE_TOKEN": token} if token else None
        result = runner.invoke(app, list(args), env=env)
        assert result.exit_code == code, result.output
        return result

    invoke("init")
    invoke("user", "add", RESEARCHER, "--role", "researcher")
    invoke.token = invoke("token", "issue", RESEARCHER).stdout.strip()  # type: ignore[attr-defined]
    return invoke


def test_zcdp_query_and_budget(run) -> None:
    token = run.token
    released = json.loads(
        run("query", COUNT, "--project", "zcdp", "--epsilon", "1", "--json", token=token).stdout
    )
    mech = released["mechanisms"]
    assert released["epsilon_spent"] == 1.0
    assert sum(mech["epsilon_split"].values()) == pytest.approx(1.0)
    rho = mech["accounting"]["rho"]
    assert sum(mech["rho_split"].values()) == pytest.approx(rho)
    assert mech["a0"]["mechanism"].startswith("discrete_gaussian")
    left = released["budget_remaining"]
    assert left["accounting"] == "zcdp" and left["rho_spent"] == pytest.approx(rho, rel=1e-12)

    shown = json.loads(run("budget", "--project", "zcdp", "--json", token=token).stdout)
    assert shown["accounting"] == "zcdp" and shown["conversion_delta"] == 5e-7
    assert shown["epsilon_total"] == 3.0 and shown["rho_spent"] == pytest.approx(rho, rel=1e-12)
    assert shown["rho_remaining"] == pytest.approx(shown["rho_total"] - shown["rho_spent"])
    assert shown["epsilon_spent"] == pytest.approx(1.0, abs=1e-9)  # ε of the ρ charged (rounded up)
    assert shown["member_rho_spent"] == pytest.approx(rho, rel=1e-12)
    assert "ρ adds up" in shown["composition"]
    text = run("budget", "--project", "zcdp", token=token).stdout
    assert "ρ" in text and "Accounted in ρ (zCDP)" in text

    for eps in ("2.4", "2.5"):  # the second no longer fits: refused in ρ and ε
        last = run(
            "query", COUNT, "--project", "zcdp", "--epsilon", eps, "--json", token=token,
            code=0 if eps == "2.4" else 2,
        )  # fmt: skip
    error = json.loads(last.stdout)["error"]
    assert error["type"] == "BudgetExhausted"
    assert error["message"].startswith("Requested ρ=") and "remaining ρ=" in error["message"]
    assert "(ε +" in error["message"] and "at δ=5e-07" in error["message"]


def test_pure_budgets_are_unchanged(run) -> None:
    token = run.token
    run("query", COUNT, "--project", "demo", "--epsilon", "0.5", "--json", token=token)
    shown = json.loads(run("budget", "--project", "demo", "--json", token=token).stdout)
    assert not {"accounting", "rho_total", "rho_spent", "conversion_delta"} & set(shown)
    assert shown["epsilon_spent"] == 0.5 and "add up" in shown["composition"]
