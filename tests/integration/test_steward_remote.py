"""Steward verbs against a real ``enclave serve`` (``--url`` + token): the same output and
exit codes as on the host, and the actor recorded is the token's owner."""

from __future__ import annotations

import json
import shlex

import pytest
from typer.testing import CliRunner

from enclave import StewardClient
from enclave.cli import app
from enclave.store import open_store
from tests._api_server import RESEARCHER, STEWARD, seeded_server

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    with seeded_server(tmp_path_factory, "remote-home") as srv:
        yield srv


def _cli(server, who: str, *args: str, home: str = "/nonexistent-home"):
    # No ENCLAVE_HOME on this side: a remote steward needs no files of the enclave.
    env = {"ENCLAVE_HOME": home, "ENCLAVE_URL": server.url, "ENCLAVE_TOKEN": server.tokens[who]}
    return CliRunner().invoke(app, list(args), env=env)


def _json(result):
    return json.loads(result.stdout)


def _steward(server, command: str):
    """``command`` (shell words) run by the steward with ``--json``: it succeeds; its JSON."""
    result = _cli(server, STEWARD, *shlex.split(command), "--json")
    assert result.exit_code == 0, result.output
    return _json(result)


def test_the_first_approval_flow_over_http(server) -> None:
    _steward(server, "user add rem@uni")
    applied = _steward(
        server,
        "project apply remote-flu --title Flu --purpose p --tables persons,claims --epsilon 2 "
        "--applicant rem@uni",
    )
    assert applied["applicant"] == "rem@uni"
    approved = _steward(
        server,
        "project approve remote-flu --table 'persons=*' --epsilon 2 --per-query 0.5 "
        "--reason 'ethics ref 7'",
    )
    assert approved["status"] == "active"
    token = _cli(server, STEWARD, "token", "issue", "rem@uni", "--days", "30")
    assert token.exit_code == 0 and token.stdout.strip().startswith("enc_")
    up = _steward(server, "budget top-up remote-flu --epsilon 1 --reason extension")
    assert up["epsilon_total"] == 3.0
    shown = _steward(server, "budget --project remote-flu --user rem@uni")
    assert shown["member"] == "rem@uni"
    assert _cli(server, STEWARD, "audit", "verify").exit_code == 0
    with open_store(server.settings) as store:
        records = [r for r in store.audit_log.export() if r["project"] == "remote-flu"]
    assert {r["actor"] for r in records} == {STEWARD}
    active = next(r for r in records if r["action"] == "project_active")
    assert active["detail"].startswith("ethics ref 7;")


def test_refusals_have_the_local_exit_codes(server, tmp_path) -> None:
    bad = _cli(server, STEWARD, "review", "list", "--status", "bogus", "--json")
    assert bad.exit_code == 2 and "pending, approved, rejected" in _json(bad)["error"]["message"]
    forbidden = _cli(
        server,
        RESEARCHER,
        "budget",
        "top-up",
        "demo",
        "--epsilon",
        "1",
        "--reason",
        "self-service",
        "--json",
    )
    assert forbidden.exit_code == 2
    assert _json(forbidden)["error"]["type"] == "Forbidden"
    missing = _cli(server, STEWARD, "project", "show", "no-such", "--json")
    assert missing.exit_code == 2 and _json(missing)["error"]["type"] == "NotFound"
    # the same project listing locally and over HTTP
    remote = _json(_cli(server, STEWARD, "project", "list", "--json"))
    local = CliRunner().invoke(
        app,
        ["project", "list", "--json", "--token", server.tokens[STEWARD]],
        env={"ENCLAVE_HOME": str(server.settings.home)},
    )
    assert local.exit_code == 0, local.output
    assert [p["id"] for p in remote] == [p["id"] for p in _json(local)]


def test_steward_client_mirrors_the_verbs(server) -> None:
    with StewardClient(server.url, server.tokens[STEWARD]) as steward:
        assert {u["id"] for u in steward.list_users()} >= {STEWARD, RESEARCHER}
        assert steward.audit_verify()["ok"] is True
        assert steward.list_reviews("pending") == []
        assert any(p["id"] == "demo" for p in steward.list_projects())
