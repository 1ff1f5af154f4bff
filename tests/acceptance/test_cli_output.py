"""The command line reads plainly, through its entry point: on/off flags show no value
placeholder in help, a dry run prints text unless ``--json`` is asked for, released
numbers keep one notation, and the dashboards start with a viewer's toolbar (no Deploy
button, no developer menu)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from enclave.cli._dashboards import streamlit_command
from enclave.cli._query import num
from tests._api_server import RESEARCHER, base_warehouse, new_home, seed_accounts

SQL = "SELECT sex, COUNT(*) AS n FROM persons GROUP BY sex"


def run(args: list[str], env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    full = {**os.environ, "COLUMNS": "80", **(env or {})}
    cmd = [sys.executable, "-m", "enclave", *args]
    return subprocess.run(cmd, env=full, capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize("verb", [[], ["query"], ["demo"], ["project", "list"], ["budget"]])
def test_help_shows_no_bool_placeholder(verb: list[str]) -> None:
    out = run([*verb, "--help"])
    assert out.returncode == 0
    assert "<bool>" not in out.stdout
    assert "--help" in out.stdout


def test_numbers_keep_one_notation() -> None:
    assert [num(v) for v in (15180.4, 33490.0, 0.1 + 0.2, 2.5, 999.95)] == [
        "15180", "33490", "0.3", "2.5", "1000",
    ]  # fmt: skip


def test_dashboards_hide_the_deploy_button() -> None:
    assert "--client.toolbarMode=viewer" in streamlit_command("127.0.0.1", 8501)


@pytest.mark.slow
def test_dry_run_prints_text_and_json_only_when_asked(tmp_path_factory, tmp_path: Path) -> None:
    base = base_warehouse(tmp_path_factory.getbasetemp())
    settings = new_home(tmp_path, base)
    token = seed_accounts(settings)[RESEARCHER]
    env = {"ENCLAVE_HOME": str(settings.home), "ENCLAVE_TOKEN": token}
    text = run(["query", SQL, "--project", "demo", "--dry-run"], env)
    assert text.returncode == 0, text.stderr
    assert text.stdout.startswith("Would cost ε ")
    assert "Expected 95% half-width" in text.stdout and "{" not in text.stdout
    as_json = run(["query", SQL, "--project", "demo", "--dry-run", "--json"], env)
    assert json.loads(as_json.stdout)["half_widths"]
