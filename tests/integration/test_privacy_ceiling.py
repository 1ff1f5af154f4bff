"""One person's privacy loss across every project of a dataset, and the ceiling on it.

Service, CLI (through its entry point) and the steward page, over a temporary enclave
with a copy of the example policies (no warehouse needed: nothing here runs a query).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from enclave.cli import app as cli
from enclave.errors import PolicyError, PolicyViolation
from enclave.policy import load_dataset_policy
from enclave.service import Service
from enclave.settings import REPO_POLICIES, Settings
from enclave.store import Principal
from tests._paths import ROOT
from tests._policies import write_project
from tests._store_rows import reserve

STEWARD = Principal(user="steward@test", role="steward", token_id="t")
RESEARCHER = Principal(user="alice@uni", role="researcher", token_id="t")
#: The shipped policies: public-health 14.7, demo 10, pharmacy 3; δ only in demo.
SHIPPED_EPS, SHIPPED_DELTA, CEILING_EPS, CEILING_DELTA = 27.7, 1e-6, 400.0, 1e-5
#: What the shipped ceiling leaves for approvals and top-ups.
LEFT = 372.3


def _ceiling(policies: Path, text: str) -> None:
    path = policies / "dataset.toml"
    body = path.read_text(encoding="utf-8")
    start = body.index("[privacy]")
    end = body.index("\n\n", start)
    path.write_text(body[:start] + text + body[end:], encoding="utf-8")


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    shutil.copytree(REPO_POLICIES, tmp_path / "policies")
    home = tmp_path / "home"
    home.mkdir()
    return Settings.from_environ(
        {"ENCLAVE_HOME": str(home), "ENCLAVE_POLICIES": str(tmp_path / "policies")}
    )


@pytest.fixture
def svc(settings: Settings):
    service = Service.open(settings)
    service.store.accounts.add_user(STEWARD.user, "steward")
    service.store.accounts.add_user(RESEARCHER.user, "researcher")
    yield service
    service.close()


def _apply(svc: Service, pid: str) -> None:
    svc.apply_project(
        RESEARCHER, pid, title=pid, purpose="tests", tables=["persons"], requested_epsilon=1.0
    )


def _rules(epsilon: float, delta: float = 0.0) -> dict:
    return {
        "tables": {"persons": ["*"]},
        "epsilon": epsilon,
        "delta": delta,
        "max_epsilon_per_query": min(1.0, epsilon),
    }


def _refusals(svc: Service) -> list[dict]:
    return [r for r in svc.audit_export(STEWARD) if r["verdict"] == "refused"]


# -- the policy ----------------------------------------------------------------------
def test_shipped_policy_has_a_ceiling_the_demo_fits(svc: Service) -> None:
    view = svc.dataset_loss(STEWARD)
    assert (view.epsilon_ceiling, view.delta_ceiling) == (CEILING_EPS, CEILING_DELTA)
    assert view.epsilon_total == SHIPPED_EPS and view.delta_total == SHIPPED_DELTA
    assert view.epsilon_remaining == CEILING_EPS - SHIPPED_EPS
    assert view.delta_remaining == pytest.approx(CEILING_DELTA - SHIPPED_DELTA)
    assert json.loads(json.dumps(svc.dataset_budget(STEWARD)))["epsilon_total"] == SHIPPED_EPS
    kinds = {p.project: p.kind for p in view.projects}
    assert kinds == {
        "demo": "project",
        "pharmacy": "project",
        "public-health": "standing indicators",
    }
    assert "basic" in view.composition


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("[privacy]\nmax_total_epsilon = -1", "max_total_epsilon must be a number above 0"),
        ("[privacy]\nmax_total_epsilon = 0", "max_total_epsilon must be a number above 0"),
        ('[privacy]\nmax_total_epsilon = "lots"', "max_total_epsilon must be"),
        ("[privacy]\nmax_total_epsilon = true", "max_total_epsilon must be"),
        ("[privacy]\nmax_total_epsilon = inf", "max_total_epsilon must be"),
        ("[privacy]\nmax_total_delta = 1.0", "max_total_delta must be a number with 0 <="),
        ("[privacy]\nmax_total_eps = 3", "unknown setting in [privacy]"),
    ],
)
def test_ceiling_settings_are_validated(settings: Settings, text: str, says: str) -> None:
    _ceiling(settings.policies_dir, text)
    with pytest.raises(PolicyError) as err:
        load_dataset_policy(settings.policies_dir / "dataset.toml")
    assert says in err.value.message


def test_privacy_must_be_a_table(settings: Settings) -> None:
    _ceiling(settings.policies_dir, "# moved to the top")
    path = settings.policies_dir / "dataset.toml"
    path.write_text("privacy = 3\n" + path.read_text(encoding="utf-8"), encoding="utf-8")
    with pytest.raises(PolicyError, match=r"\[privacy\] must be a table"):
        load_dataset_policy(path)


def test_no_privacy_section_means_no_ceiling(settings: Settings) -> None:
    _ceiling(settings.policies_dir, "# no ceiling")
    ds = load_dataset_policy(settings.policies_dir / "dataset.toml")
    assert ds.privacy.max_total_epsilon is None and ds.privacy.max_total_delta is None
    svc = Service.open(settings)
    try:
        svc.store.accounts.add_user(RESEARCHER.user, "researcher")
        _apply(svc, "huge")
        assert svc.approve_project(STEWARD, "huge", _rules(5000.0))["status"] == "active"
        view = svc.dataset_loss(STEWARD)
        assert view.epsilon_total == SHIPPED_EPS + 5000.0
        assert view.epsilon_ceiling is None and view.epsilon_remaining is None
    finally:
        svc.close()


# -- approvals -----------------------------------------------------------------------
def test_approval_past_the_ceiling_is_refused_and_changes_nothing(svc: Service) -> None:
    """Regression: before the ceiling any approval went through, whatever the total."""
    _apply(svc, "big")
    with pytest.raises(PolicyViolation) as err:
        svc.approve_project(STEWARD, "big", _rules(LEFT + 3))
    assert err.value.message.startswith(
        f"Requested ε={LEFT + 3:g} for approving project 'big'; remaining ε={LEFT:g} under the "
        "privacy ceiling of dataset 'claims' (difference 3)."
    )
    assert svc.store.projects.get("big").status == "pending"
    assert svc.project_policy("big") is None
    assert svc.dataset_loss(STEWARD).epsilon_total == SHIPPED_EPS
    (refusal,) = _refusals(svc)
    assert refusal["action"] == "project_active" and refusal["project"] == "big"
    assert refusal["actor"] == STEWARD.user and refusal["error_type"] == "PolicyViolation"
    assert refusal["epsilon"] == LEFT + 3
    assert svc.audit_verify(STEWARD)["ok"]
    # Exactly what is left fits; after that nothing does.
    assert svc.approve_project(STEWARD, "big", _rules(LEFT))["status"] == "active"
    assert svc.dataset_loss(STEWARD).epsilon_remaining == 0.0
    _apply(svc, "small")
    with pytest.raises(PolicyViolation, match="remaining ε=0 "):
        svc.approve_project(STEWARD, "small", _rules(0.01))


def test_delta_past_the_ceiling_is_refused(svc: Service) -> None:
    _apply(svc, "keys")
    with pytest.raises(PolicyViolation) as err:
        svc.approve_project(STEWARD, "keys", _rules(1.0, delta=9.5e-6))
    assert "Requested δ=9.5e-06" in err.value.message
    assert "remaining δ=9e-06" in err.value.message
    assert "max_total_delta" in err.value.message
    assert svc.store.projects.get("keys").status == "pending"


def test_pending_rejected_and_suspended_projects(svc: Service) -> None:
    _apply(svc, "waiting")
    _apply(svc, "no")
    svc.set_project_status(STEWARD, "no", "rejected", "out of scope")
    svc.set_project_status(STEWARD, "pharmacy", "suspended", "paused")
    view = svc.dataset_loss(STEWARD)
    share = {p.project: p for p in view.projects}
    assert share["waiting"].epsilon == 0 and share["no"].epsilon == 0
    # A suspended project may be resumed: its budget still counts.
    assert share["pharmacy"].status == "suspended" and share["pharmacy"].epsilon == 3.0
    assert view.epsilon_total == SHIPPED_EPS


def test_other_errors_come_before_the_ceiling(svc: Service) -> None:
    with pytest.raises(Exception) as err:
        svc.approve_project(STEWARD, "nope", _rules(60.0))
    assert type(err.value).__name__ == "NotFound"
    with pytest.raises(Exception) as err:
        svc.approve_project(RESEARCHER, "nope", _rules(60.0))
    assert type(err.value).__name__ == "Forbidden"
    assert not _refusals(svc)


# -- top-ups -------------------------------------------------------------------------
def test_top_up_past_the_ceiling_is_refused(svc: Service) -> None:
    before = svc.budget(STEWARD, "demo")
    with pytest.raises(PolicyViolation) as err:
        svc.top_up(STEWARD, "demo", epsilon=LEFT + 1, reason="more weeks")
    expected = f"Requested ε={LEFT + 1:g} for a top-up of project 'demo'; remaining ε={LEFT:g}"
    assert expected in err.value.message
    assert "(difference 1)" in err.value.message
    assert svc.budget(STEWARD, "demo") == before
    (refusal,) = _refusals(svc)
    assert refusal["action"] == "top_up" and refusal["project"] == "demo"
    out = svc.top_up(STEWARD, "demo", epsilon=LEFT, reason="more weeks")
    assert out["epsilon_total"] == LEFT + 10
    with pytest.raises(PolicyViolation):
        svc.top_up(STEWARD, "pharmacy", epsilon=0.5, delta=0.0, reason="more")
    with pytest.raises(PolicyViolation, match="δ"):
        svc.top_up(STEWARD, "pharmacy", epsilon=0.0, delta=1e-5, reason="more")


def test_member_top_up_adds_nothing_to_the_total(svc: Service) -> None:
    out = svc.top_up(STEWARD, "demo", epsilon=500.0, reason="share", member="researcher@demo")
    assert out["epsilon_total"] == 10.0
    assert svc.dataset_loss(STEWARD).epsilon_total == SHIPPED_EPS


def test_spending_shows_per_project_and_in_total(svc: Service) -> None:
    from enclave.store import BudgetLimits

    limits = BudgetLimits.from_policy(svc.project_policy("demo"))
    res = reserve(svc.store, 0.25, limits=limits, user="researcher@demo", rid="r1")
    svc.store.commit(res, cache_key="k", release={"columns": [], "rows": []})
    view = svc.dataset_loss(STEWARD)
    assert view.epsilon_spent == 0.25
    assert {p.project: p.epsilon_spent for p in view.projects}["demo"] == 0.25
    assert view.epsilon_total == SHIPPED_EPS  # spending within a budget adds no loss


def test_dataset_view_is_for_stewards(svc: Service) -> None:
    with pytest.raises(Exception) as err:
        svc.dataset_loss(RESEARCHER)
    assert type(err.value).__name__ == "Forbidden"


# -- policy files --------------------------------------------------------------------
def test_policy_files_past_the_ceiling_are_refused(settings: Settings) -> None:
    write_project(
        settings.policies_dir,
        "big-file",
        title="A policy file past the ceiling",
        members=("alice@uni",),
        epsilon=415.3,  # with the shipped 27.7: 443
        per_query=1.0,
    )
    svc = Service.open(settings)
    try:
        with pytest.raises(PolicyViolation) as err:
            svc.project_policy("demo")
        assert err.value.message.startswith(
            "Requested ε=443 for the project policy files; remaining ε=400"
        )
        assert "(difference 43)" in err.value.message
        # The steward still sees why.
        view = svc.dataset_loss(STEWARD)
        assert view.epsilon_total == 443.0 and view.epsilon_remaining == 0.0
        records = list(svc.store.audit_log.export())
        assert records[-1]["action"] == "policy_load" and records[-1]["verdict"] == "refused"
    finally:
        svc.close()
    _ceiling(settings.policies_dir, "[privacy]\nmax_total_epsilon = 443.0")
    svc = Service.open(settings)
    try:
        assert svc.project_policy("big-file") is not None
    finally:
        svc.close()


# -- CLI -----------------------------------------------------------------------------
@pytest.fixture
def run(settings: Settings, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("ENCLAVE_HOME", str(settings.home))
    monkeypatch.setenv("ENCLAVE_POLICIES", str(settings.policies_dir))
    monkeypatch.delenv("ENCLAVE_TOKEN", raising=False)
    monkeypatch.delenv("ENCLAVE_URL", raising=False)
    local = Service.open(settings)  # the local admin account `enclave init` creates
    try:
        if local.store.accounts.user("admin@local") is None:
            local.store.accounts.add_user("admin@local", "steward")
    finally:
        local.close()
    runner = CliRunner()

    def invoke(*args: str, code: int = 0):
        result = runner.invoke(cli, list(args))
        assert result.exit_code == code, result.output
        return result

    return invoke


def test_cli_dataset_budget(run) -> None:
    data = json.loads(run("budget", "dataset", "--json").stdout)
    assert data["dataset"] == "claims"
    assert data["epsilon_total"] == SHIPPED_EPS and data["epsilon_ceiling"] == CEILING_EPS
    assert [p["project"] for p in data["projects"]] == ["demo", "pharmacy", "public-health"]
    text = run("budget", "dataset").stdout
    assert "public-health" in text and "total" in text and f"{SHIPPED_EPS:g}" in text
    assert f"left for approvals and top-ups: ε {LEFT:g}" in text


def test_cli_refuses_a_top_up_past_the_ceiling(run, settings: Settings) -> None:
    asked = f"{LEFT + 3:g}"
    out = run("budget", "top-up", "demo", "--epsilon", asked, "--reason", "r", "--json", code=2)
    err = json.loads(out.stdout)["error"]
    assert err["type"] == "PolicyViolation"
    assert err["message"].startswith(f"Requested ε={asked} for a top-up of project 'demo'")
    data = json.loads(run("budget", "dataset", "--json").stdout)
    assert data["epsilon_total"] == SHIPPED_EPS


def test_cli_refuses_an_approval_past_the_ceiling(run, svc: Service) -> None:
    _apply(svc, "big")
    out = run(
        "project",
        "approve",
        "big",
        "--table",
        "persons=*",
        "--epsilon",
        f"{LEFT + 1:g}",
        "--per-query",
        "1",
        code=2,
    )
    assert "PolicyViolation" in out.output and f"remaining ε={LEFT:g}" in out.output
    assert svc.store.projects.get("big").status == "pending"


# -- steward page --------------------------------------------------------------------
def test_steward_page_shows_the_loss_across_projects(
    settings: Settings, svc: Service, monkeypatch: pytest.MonkeyPatch
) -> None:
    from streamlit.testing.v1 import AppTest

    _apply(svc, "flu")
    svc.approve_project(STEWARD, "flu", _rules(7.0))
    token = svc.store.accounts.issue_token(STEWARD.user)
    monkeypatch.setenv("ENCLAVE_HOME", str(settings.home))
    monkeypatch.setenv("ENCLAVE_POLICIES", str(settings.policies_dir))
    page = ROOT / "dashboards" / "views" / "steward.py"
    at = AppTest.from_file(str(page), default_timeout=60).run()
    at.text_input[0].input(token)
    at.button[0].click()
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    frames = [d.value for d in at.dataframe if "kind" in d.value.columns]
    assert len(frames) == 1
    table = frames[0].set_index("project")
    assert table.loc["flu", "ε"] == 7.0
    assert table.loc["public-health", "kind"] == "standing indicators"
    assert table.loc["total (one person)", "ε"] == SHIPPED_EPS + 7.0
    captions = " ".join(c.value for c in at.caption)
    assert f"Left for approvals and top-ups: ε {LEFT - 7:g}" in captions
