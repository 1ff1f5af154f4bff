"""A zcdp project over HTTP: the release and ``GET /v1/projects/{id}/budget`` state ρ and
the ε it implies; the dry run states ρ; pure projects answer as before."""

from __future__ import annotations

import shutil

import pytest

from enclave.settings import REPO_POLICIES
from tests._api_server import RESEARCHER, running_server, seeded_home
from tests._policies import write_project

COUNT = "SELECT COUNT(*) AS n FROM claims"


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    settings, tokens = seeded_home(tmp_path_factory, "zcdp-api")
    policies = tmp_path_factory.mktemp("policies") / "policies"
    shutil.copytree(REPO_POLICIES, policies)
    write_project(
        policies, "zcdp", title="zCDP", members=[RESEARCHER], epsilon=5.0, per_query=1.0,
        tables=("claims",), delta=1e-6, accounting="zcdp",
    )  # fmt: skip
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("ENCLAVE_POLICIES", str(policies))
        with running_server(settings) as srv:
            srv.tokens = tokens
            yield srv


def test_release_and_budget_state_rho(server) -> None:
    with server.client(RESEARCHER) as r:
        preview = r.post(
            "/v1/queries/dry-run", json={"sql": COUNT, "project": "zcdp", "epsilon": 0.5}
        )
        assert preview.status_code == 200, preview.text
        assert preview.json()["rho"] > 0 and preview.json()["composition"].startswith("ρ-zCDP")
        answered = r.post("/v1/queries", json={"sql": COUNT, "project": "zcdp", "epsilon": 0.5})
        assert answered.status_code == 200, answered.text
        release = answered.json()
        rho = release["mechanisms"]["accounting"]["rho"]
        split, rho_split = (
            release["mechanisms"]["epsilon_split"],
            release["mechanisms"]["rho_split"],
        )
        assert set(rho_split) == set(split) == {"rows_bound", "a0"}  # the auto bound: ε²/2
        assert sum(split.values()) == pytest.approx(0.5)
        assert sum(rho_split.values()) == pytest.approx(rho)
        assert preview.json()["rho"] == rho
        budget = r.get("/v1/projects/zcdp/budget").json()
        assert budget["accounting"] == "zcdp" and budget["rho_spent"] == pytest.approx(rho)
        assert budget["epsilon_total"] == 5.0
        assert budget["epsilon_spent"] == pytest.approx(0.5, abs=1e-9)
        assert budget["rho_total"] > budget["rho_remaining"] > 0
        pure = r.get("/v1/projects/demo/budget").json()
        assert "rho_spent" not in pure and "accounting" not in pure
