"""The layers of the code base, checked by import-linter (contracts in pyproject.toml).

api / cli / dashboards → service → gateway → {engines, store, noise, policy}; ingest
(``pseudonymize``) is its own layer on errors, settings, schema and policy; no package
imports a sibling that imports it back. Each contract is one test, so a failure names it
and prints the imports that break it.
"""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from tests._paths import ROOT

CONTRACTS = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"][
    "importlinter"
]["contracts"]


@pytest.fixture(scope="module")
def report() -> str:
    exe = Path(sys.executable).with_name("lint-imports")
    done = subprocess.run(
        [str(exe), "--no-cache", "--config", str(ROOT / "pyproject.toml")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert "Contracts:" in done.stdout, done.stdout + done.stderr
    return done.stdout


def _section(report: str, name: str) -> str:
    """The broken-contract section of ``name`` (the imports that break it)."""
    start = report.rfind(f"\n{name}\n")
    if start < 0:
        return report
    end = report.find("\n\n\n", report.find("\n\n", start + len(name) + 2) + 2)
    return report[start : end if end > 0 else None]


def test_every_contract_was_checked(report: str) -> None:
    assert len(CONTRACTS) >= 6
    for contract in CONTRACTS:
        assert f"{contract['name']} KEPT" in report or f"{contract['name']} BROKEN" in report


@pytest.mark.parametrize("contract", CONTRACTS, ids=[c["id"] for c in CONTRACTS])
def test_contract_kept(report: str, contract: dict[str, object]) -> None:
    name = str(contract["name"])
    assert f"{name} KEPT" in report, _section(report, name)
