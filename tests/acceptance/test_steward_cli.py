"""Steward verbs of the CLI over a temporary ENCLAVE_HOME (no server needed): the actor is
always the authenticated principal (the local admin account, or a token's owner)."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from enclave.cli import app
from enclave.settings import Settings
from enclave.store import BudgetLimits, open_store
from tests._store_rows import apply_project


@pytest.fixture
def run(tmp_path, monkeypatch):
    monkeypatch.setenv("ENCLAVE_HOME", str(tmp_path))
    monkeypatch.delenv("ENCLAVE_TOKEN", raising=False)
    monkeypatch.delenv("ENCLAVE_URL", raising=False)
    runner = CliRunner()

    def invoke(*args: str, code: int = 0):
        result = runner.invoke(app, list(args))
        assert result.exit_code == code, result.output
        return result

    invoke("init")
    return invoke


def _json(result):
    return json.loads(result.stdout)


def test_first_approval_flow(run, tmp_path):
    run("user", "add", "alice@uni", "--role", "researcher")
    run("user", "add", "sam", "--role", "steward")
    sam = run("token", "issue", "sam").stdout.strip()
    applied = _json(
        run(
            "project",
            "apply",
            "flu",
            "--title",
            "Flu",
            "--purpose",
            "weekly flu",
            "--tables",
            "persons,claims",
            "--epsilon",
            "3",
            "--applicant",
            "alice@uni",
            "--json",
        )
    )
    assert applied["status"] == "pending"
    approved = _json(
        run(
            "project",
            "approve",
            "flu",
            "--table",
            "persons=*",
            "--table",
            "claims=person_id,visit_date,icd10",
            "--epsilon",
            "3",
            "--per-query",
            "0.5",
            "--review-epsilon",
            "0.25",
            "--reason",
            "ethics ref 12",
            "--token",
            sam,
            "--json",
        )
    )
    assert approved["status"] == "active"
    shown = _json(run("project", "show", "flu", "--json"))
    assert shown["policy"]["members"] == ["alice@uni"]
    assert shown["policy"]["tables"]["claims"] == ["person_id", "visit_date", "icd10"]
    assert shown["policy"]["review_epsilon"] == 0.25
    listed = _json(run("project", "list", "--json"))
    assert {"demo", "pharmacy", "flu"} <= {p["id"] for p in listed}
    token = run("token", "issue", "alice@uni", "--days", "30").stdout.strip()
    assert token.startswith("enc_")
    tokens = _json(run("token", "list", "alice@uni", "--json"))
    assert len(tokens) == 1 and tokens[0]["expires"] and "hash" not in tokens[0]
    run("token", "revoke", tokens[0]["id"])
    assert _json(run("token", "list", "alice@uni", "--json"))[0]["revoked"]
    up = _json(run("budget", "top-up", "flu", "--epsilon", "1", "--reason", "extension", "--json"))
    assert up["epsilon_total"] == 4.0
    shown_budget = _json(run("budget", "--project", "flu", "--json"))
    assert shown_budget["epsilon_total"] == 4.0
    # the project list shows the ledger's figures, top-ups included (never the stale policy ε)
    (flu,) = [p for p in _json(run("project", "list", "--json")) if p["id"] == "flu"]
    assert flu["budget"]["epsilon_total"] == 4.0
    assert "ε left 4/4" in run("project", "list").stdout
    run("project", "suspend", "flu", "--reason", "paused")
    assert _json(run("project", "show", "flu", "--json"))["status"] == "suspended"
    run("project", "resume", "flu")
    with open_store(Settings(home=tmp_path)) as store:
        records = list(store.audit_log.export())
        actions = [r["action"] for r in records]
        assert store.audit_log.verify().ok
    by_action: dict = {}
    for r in records:
        by_action.setdefault(r["action"], r)  # the first of each
    assert by_action["project_active"]["actor"] == "sam"  # the token's owner
    assert by_action["project_active"]["detail"].startswith("ethics ref 12;")
    assert by_action["apply_project"]["actor"] == "admin@local"
    assert by_action["apply_project"]["detail"] == "pending for alice@uni"
    issued = [r["detail"] for r in records if r["action"] == "issue_token"]
    assert issued[0].endswith("for sam") and issued[1].endswith("for alice@uni")
    assert by_action["revoke_token"]["detail"].endswith("of alice@uni")
    assert {r["actor"] for r in records if r["action"] == "top_up"} == {"admin@local"}
    for action in (
        "apply_project",
        "project_active",
        "issue_token",
        "revoke_token",
        "top_up",
        "project_suspended",
    ):
        assert action in actions


def test_refusals_exit_2_and_change_nothing(run, tmp_path):
    run("user", "add", "bob", "--role", "researcher")
    err = _json(
        run("budget", "top-up", "demo", "--epsilon", "-1", "--reason", "x", "--json", code=2)
    )
    assert err["error"]["type"] == "UserError"
    assert (
        _json(
            run(
                "project",
                "approve",
                "nope",
                "--table",
                "persons=*",
                "--epsilon",
                "1",
                "--per-query",
                "1",
                "--json",
                code=2,
            )
        )["error"]["type"]
        == "NotFound"
    )
    assert (
        _json(run("member", "add", "nope", "bob", "--json", code=2))["error"]["type"] == "NotFound"
    )
    assert _json(run("user", "add", "bob", "--json", code=2))["error"]["type"] == "Conflict"
    run("project", "apply", "wide", "--title", "W", "--purpose", "p", "--tables", "persons")
    bad = _json(
        run(
            "project",
            "approve",
            "wide",
            "--table",
            "persons=*",
            "--epsilon",
            "1",
            "--per-query",
            "2",
            "--json",
            code=2,
        )
    )
    assert "max_epsilon_per_query" in bad["error"]["message"]
    assert _json(run("project", "show", "wide", "--json"))["status"] == "pending"
    with open_store(Settings(home=tmp_path)) as store:
        assert sorted(u["id"] for u in store.accounts.users()) == ["admin@local", "bob"]
        assert store.budget("demo", BudgetLimits(10.0)).epsilon_total == 10.0


def test_members_and_reviews(run):
    run("user", "add", "carol", "--role", "researcher")
    run("member", "add", "pharmacy", "carol")
    assert "carol" in _json(run("project", "show", "pharmacy", "--json"))["policy"]["members"]
    run("member", "remove", "pharmacy", "carol")
    assert "carol" not in _json(run("project", "show", "pharmacy", "--json"))["policy"]["members"]
    # a file member cannot be removed from the store; the message says what to do instead
    err = _json(run("member", "remove", "demo", "researcher@demo", "--json", code=2))
    assert "policy file" in err["error"]["message"]
    assert _json(run("review", "list", "--json")) == []
    assert _json(run("review", "approve", "nope", "--json", code=2))["error"]["type"] == "NotFound"


def test_the_actor_cannot_be_typed_in(run, tmp_path):
    run("user", "add", "alice@uni", "--role", "researcher")
    alice = run("token", "issue", "alice@uni").stdout.strip()
    # --as is gone: naming someone else is not an option
    run("budget", "top-up", "demo", "--epsilon", "0.5", "--reason", "r", "--as", "x", code=2)
    err = _json(
        run(
            "budget",
            "top-up",
            "demo",
            "--epsilon",
            "0.5",
            "--reason",
            "self-service",
            "--token",
            alice,
            "--json",
            code=2,
        )
    )
    assert err["error"]["type"] == "Forbidden"
    with open_store(Settings(home=tmp_path)) as store:
        assert not [r for r in store.audit_log.export() if r["action"] == "top_up"]


def _apply(pid: str, *extra: str) -> tuple[str, ...]:
    """``project apply`` with a title, purpose and tables, and ``extra`` options."""
    return (
        "project",
        "apply",
        pid,
        "--title",
        "t",
        "--purpose",
        "p",
        "--tables",
        "persons",
        *extra,
    )


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (_apply("Bad_Name"), "lowercase"),
        (_apply("ok-id", "--epsilon", "-5"), "more than 0"),
        (_apply("ok-id", "--applicant", "nobody@x"), "No researcher"),
        (("user", "add", "a user"), "no spaces"),
        (("user", "add", "bob", "--role", "boss"), "role is one of"),
        (("budget", "--project", "demo", "--user", "nobody@x"), "not a member"),
        (("review", "list", "--status", "bogus"), "pending, approved, rejected"),
    ],
)
def test_steward_input_is_validated(run, args, says):
    err = _json(run(*args, "--json", code=2))
    assert says in err["error"]["message"]


def test_approval_needs_a_member(run, tmp_path):
    with open_store(Settings(home=tmp_path)) as store:  # an applicant with no account
        apply_project(store, "orphan", applicant="ghost")
    args = ("--table", "persons=*", "--epsilon", "1", "--per-query", "1", "--json")
    err = _json(run("project", "approve", "orphan", *args, code=2))
    assert "no member" in err["error"]["message"]
    assert _json(run("project", "show", "orphan", "--json"))["status"] == "pending"


def test_a_missing_home_is_refused_not_created(tmp_path, monkeypatch):
    home = tmp_path / "nonexistent"
    monkeypatch.setenv("ENCLAVE_HOME", str(home))
    monkeypatch.delenv("ENCLAVE_TOKEN", raising=False)
    monkeypatch.delenv("ENCLAVE_URL", raising=False)
    runner = CliRunner()
    for args in (["audit", "verify"], ["user", "list"], ["budget", "--project", "demo"]):
        result = runner.invoke(app, args)
        assert result.exit_code == 2
        assert "enclave init" in result.output
    assert not home.exists()
    assert runner.invoke(app, ["init"]).exit_code == 0
    assert runner.invoke(app, ["audit", "verify"]).exit_code == 0
