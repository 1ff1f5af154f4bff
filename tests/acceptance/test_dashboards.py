"""AppTest drives every dashboard page against a small real enclave (no exceptions, clear
messages for bad input, never a stack trace)."""

from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest

from tests._dashboards_env import Env, build
from tests._paths import ROOT

pytestmark = pytest.mark.slow

PAGES = ROOT / "dashboards" / "views"


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Env:
    return build(tmp_path_factory.mktemp("dash"))


@pytest.fixture
def app(env: Env, monkeypatch: pytest.MonkeyPatch):
    for k, v in env.environ().items():
        monkeypatch.setenv(k, v)

    def make(page: str) -> AppTest:
        return AppTest.from_file(str(PAGES / page), default_timeout=60)

    return make


def _texts(at: AppTest, kind: str) -> list[str]:
    return [e.value for e in getattr(at, kind)]


def _no_trace(at: AppTest) -> None:
    assert not at.exception, [e.value for e in at.exception]
    for msg in _texts(at, "error"):
        assert "Traceback" not in msg


def _sign_in(at: AppTest, token: str) -> AppTest:
    at.run()
    at.text_input[0].input(token)
    at.button[0].click()
    return at.run()


def _button(at: AppTest, label: str):
    return next(b for b in at.button if b.label == label)


# -- public monitor: tests/acceptance/test_monitor_page.py ------------------------


# -- researcher console --------------------------------------------------------------
def test_researcher_bad_token(app) -> None:
    at = _sign_in(app("researcher.py"), "enc_nope.nope")
    _no_trace(at)
    assert at.error and "token" in at.error[0].value.lower()


def test_researcher_estimate_run_and_download(app, env: Env) -> None:
    at = _sign_in(app("researcher.py"), env.researcher_token)
    _no_trace(at)
    at.selectbox(key="project").set_value("demo").run()
    at.button(key="estimate").click().run()
    _no_trace(at)
    labels = [m.label for m in at.metric]
    assert "ε" in labels and "expected 95% half-width" in labels
    at.button(key="run").click().run()
    _no_trace(at)
    frame = at.dataframe[0].value
    assert {"patients", "patients_se", "patients_ci_low", "patients_ci_high"} <= set(frame.columns)
    assert len(frame) == 22  # every public region key is returned
    assert len(at.get("download_button")) == 2
    history = at.dataframe[-1].value
    assert len(history) == 1 and history["epsilon"].iloc[0] == pytest.approx(0.5)
    # the estimate's "project ε left" is read now, after the run: it shows the spend
    lefts = [float(m.value) for m in at.metric if m.label == "project ε left"]
    assert lefts and lefts[0] == pytest.approx(lefts[-1])


def test_researcher_estimate_of_an_average_is_in_its_units(app, env: Env) -> None:
    at = _sign_in(app("researcher.py"), env.researcher_token)
    at.selectbox(key="project").set_value("demo").run()
    at.text_area(key="sql").input("SELECT AVG(los_days) AS mean_stay FROM claims").run()
    at.button(key="estimate").click().run()
    _no_trace(at)
    shown = next(m.value for m in at.metric if m.label == "expected 95% half-width")
    assert shown.startswith("mean_stay ±") and "(1,000 rows)" in shown
    table = next(d.value for d in at.dataframe if "group rows" in d.value.columns)
    assert list(table["group rows"]) == [100, 1_000, 10_000, 100_000]
    widths = list(table["95% half-width"])
    assert widths == sorted(widths, reverse=True) and 0 < widths[-1] < 30  # days, not a sum


def test_researcher_schema_lists_public_group_keys(app, env: Env) -> None:
    at = _sign_in(app("researcher.py"), env.researcher_token)
    _no_trace(at)
    at.selectbox(key="project").set_value("demo").run()
    _no_trace(at)
    keys = next(
        d.value
        for d in at.dataframe
        if "expression" in d.value.columns and "keys" in d.value.columns
    )
    expressions = list(keys["expression"])
    assert any("birth_year" in e for e in expressions)  # age bands, from a public domain
    assert any(e.startswith("year(") for e in expressions)  # calendar years of a date
    assert (keys["keys"] > 0).all()
    assert any("Public group keys" in m.value for m in at.markdown)


def test_researcher_refused_query_shows_message(app, env: Env) -> None:
    at = _sign_in(app("researcher.py"), env.researcher_token)
    at.selectbox(key="project").set_value("demo").run()
    at.text_area(key="sql").input("SELECT person_id FROM persons").run()
    at.button(key="run").click().run()
    _no_trace(at)
    assert at.error and "refused" in at.error[0].value
    assert not at.dataframe or "patients" not in at.dataframe[0].value.columns


def test_researcher_exhausted_budget(app, env: Env) -> None:
    at = _sign_in(app("researcher.py"), env.researcher_token)
    at.selectbox(key="project").set_value("tiny").run()
    at.number_input(key="epsilon").set_value(0.3).run()
    at.button(key="run").click().run()
    _no_trace(at)
    at.text_area(key="sql").input("SELECT COUNT(*) AS n FROM persons").run()
    at.button(key="run").click().run()
    _no_trace(at)
    assert any("BudgetExhausted" in e for e in _texts(at, "error"))


def test_researcher_session_ends_when_token_revoked(app, env: Env) -> None:
    at = _sign_in(app("researcher.py"), env.spare_token)
    _no_trace(at)
    assert not at.error
    from enclave.store import open_store

    with open_store(env.settings) as store:
        store.accounts.revoke_token(env.spare_token.split(".", 1)[0].removeprefix("enc_"))
    at.run()
    _no_trace(at)
    assert any("sign in again" in e.lower() for e in _texts(at, "error"))


def test_researcher_refuses_a_steward_token(app, env: Env) -> None:
    at = _sign_in(app("researcher.py"), env.steward_token)
    _no_trace(at)
    assert at.error and "researcher" in at.error[0].value


# -- steward console -----------------------------------------------------------------
def test_steward_approves_only_the_chosen_application(app, env: Env) -> None:
    at = _sign_in(app("steward.py"), env.steward_token)
    _no_trace(at)
    assert {"flu-study", "cost-study"} <= set(at.dataframe[0].value["id"])
    assert "purpose" in at.dataframe[0].value.columns
    assert at.selectbox(key="app_pick").value is None  # nothing preselected
    assert not [b for b in at.button if b.label == "Approve"]  # no form until chosen
    at.selectbox(key="app_pick").set_value("flu-study").run()
    at.number_input(key="app_review_flu-study").set_value(0.4)
    at.text_input(key="app_reason_flu-study").input("ethics approval on file")
    _button(at, "Approve").click()
    at.run()
    _no_trace(at)
    assert not at.error, _texts(at, "error")
    assert any("flu-study is now active" in s.value for s in at.success)
    # The picker is cleared: a second click has nothing to approve.
    assert at.selectbox(key="app_pick").value is None
    assert not [b for b in at.button if b.label == "Approve" and "app" in str(b.form_id)]
    at.run()
    svc = _service(env)
    try:
        assert svc.store.projects.get("cost-study").status == "pending"
        flu = svc.store.projects.get("flu-study")
        assert flu.status == "active" and flu.reason == "ethics approval on file"
        rules = svc.describe_project("flu-study")["policy"]
        assert rules["review_epsilon"] == 0.4
        record = [r for r in svc.store.audit_log.export() if r["action"] == "project_active"][-1]
        assert record["project"] == "flu-study" and record["actor"] == "steward@test"
        assert record["detail"].startswith("ethics approval on file;")
    finally:
        svc.close()


def _service(env: Env):
    from enclave.service import Service

    return Service.open(env.settings)


def test_steward_reject_needs_a_reason(app, env: Env) -> None:
    at = _sign_in(app("steward.py"), env.steward_token)
    at.selectbox(key="app_pick").set_value("cost-study").run()
    _button(at, "Reject").click().run()
    _no_trace(at)
    assert any("reason" in e.lower() for e in _texts(at, "error"))
    assert at.selectbox(key="app_pick").value == "cost-study"  # kept, to add the reason


def test_steward_issues_a_token(app, env: Env) -> None:
    at = _sign_in(app("steward.py"), env.steward_token)
    at.text_input(key="issue_user").input("new@test")
    _button(at, "Issue token").click()
    at.run()
    _no_trace(at)
    assert any("shown only once" in s.value for s in at.success)


def test_steward_audit_verify_and_publish(app, env: Env) -> None:
    at = _sign_in(app("steward_audit.py"), env.steward_token)
    _no_trace(at)
    at.button(key="verify").click().run()
    _no_trace(at)
    assert any("intact" in s.value for s in at.success)
    at.button(key="publish").click().run()
    _no_trace(at)
    assert any("Published 1 indicator releases" in s.value for s in at.success)


def test_steward_audit_shows_every_ingested_file(app, env: Env) -> None:
    at = _sign_in(app("steward_audit.py"), env.steward_token)
    _no_trace(at)
    assert not at.error, _texts(at, "error")
    frames = [d.value for d in at.dataframe]
    files = next(f for f in frames if "rows_quarantined" in f.columns)
    assert {"persons", "claims"} <= set(files["table"])
    assert (files["rows_read"] == files["rows_loaded"] + files["rows_quarantined"]).all()
    assert any("reason" in f.columns for f in frames)


def test_steward_pages_refuse_researchers(app, env: Env) -> None:
    at = _sign_in(app("steward.py"), env.researcher_token)
    _no_trace(at)
    assert at.error and "steward" in at.error[0].value


def test_multipage_entry_runs(app) -> None:
    at = AppTest.from_file(str(PAGES.parent / "app.py"), default_timeout=60).run()
    _no_trace(at)
    assert at.title[0].value == "Public-health monitor"
