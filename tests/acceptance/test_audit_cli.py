"""``enclave audit verify|export`` and ``enclave budget`` through the real typer app."""

from __future__ import annotations

import json
import os
import sqlite3

import pytest
from typer.testing import CliRunner

from enclave.cli import app
from enclave.settings import Settings
from enclave.store import BudgetLimits, open_store
from tests._store_rows import fill_audit, reserve


@pytest.fixture
def home(tmp_path):
    home = tmp_path / "home"
    assert _run(home, "init").exit_code == 0  # as a steward sets an enclave up
    return home


def _run(home, *args):
    return CliRunner().invoke(app, list(args), env={"ENCLAVE_HOME": str(home)})


def _fill(home, n=3):
    with open_store(Settings(home=home)) as store:
        fill_audit(store, n, verdicts=("refused",), hashed=False)


def test_verify_intact_exits_0(home):
    _fill(home)
    result = _run(home, "audit", "verify")
    assert result.exit_code == 0
    assert "intact: 4 records" in result.output  # `enclave init` wrote the first
    data = json.loads(_run(home, "audit", "verify", "--json").output)
    assert data["ok"] is True and data["records"] == 4


def test_verify_tampered_exits_3(home):
    _fill(home)
    con = sqlite3.connect(home / "metadata.sqlite")
    con.execute("UPDATE audit_log SET verdict = 'released' WHERE seq = 2")
    con.commit()
    con.close()
    result = _run(home, "audit", "verify")
    assert result.exit_code == 3
    assert "edited" in result.stderr and "record 2" in result.stderr
    result = _run(home, "audit", "verify", "--json")
    assert result.exit_code == 3
    assert json.loads(result.stdout)["problem"] == "edited"


def test_export_json_lines(home, tmp_path):
    _fill(home)
    result = _run(home, "audit", "export")
    assert result.exit_code == 0
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert [r["seq"] for r in lines] == [1, 2, 3, 4]
    assert lines[0]["action"] == "add_user" and lines[0]["actor"] == "init"
    out = tmp_path / "audit.jsonl"
    result = _run(home, "audit", "export", "--out", str(out))
    assert result.exit_code == 0
    assert [json.loads(x) for x in out.read_text().splitlines()] == lines
    assert os.stat(out).st_mode & 0o077 == 0


def test_budget_shows_policy_limits_and_spending(home):
    with open_store(Settings(home=home)) as store:
        r = reserve(store, 0.75, limits=BudgetLimits(10.0), user="researcher@demo")
        store.commit(r, cache_key="k", release={})
    result = _run(home, "budget", "--project", "demo", "--user", "researcher@demo", "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["epsilon_total"] == 10.0  # from policies/projects/demo.toml
    assert (data["epsilon_spent"], data["epsilon_remaining"]) == (0.75, 9.25)
    assert data["member_epsilon_spent"] == 0.75
    assert "add up" in data["composition"]
    text = _run(home, "budget", "--project", "demo")
    assert text.exit_code == 0 and "9.25" in text.stdout and "Composition" in text.stdout


def test_budget_unknown_project_is_a_user_error(home):
    result = _run(home, "budget", "--project", "nope", "--json")
    assert result.exit_code == 2
    assert json.loads(result.stdout)["error"]["type"] == "NotFound"


def test_store_file_is_private(home):
    open_store(Settings(home=home)).close()
    assert os.stat(home / "metadata.sqlite").st_mode & 0o077 == 0
