"""From a new ENCLAVE_HOME, through the entry point: ``enclave synth --outbreak …`` →
``enclave init`` → ``enclave ingest`` → ``enclave indicators release --all`` →
``enclave indicators alerts --json`` shows the injected outbreak; ``GET /v1/alerts`` (no
token) gives the same rows over HTTP on loopback, also as CSV."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from enclave.settings import Settings
from tests._api_server import running_server

pytestmark = pytest.mark.slow

#: A tripling for three weeks just after the region's flu peak (late December), in a region
#: with 20 to 30 ILI patients a week then: the case the regression used to miss, as its
#: baseline took the peak just passed for the expected value. (A doubling is found in ~97%
#: of simulated seasons, bench/monitor_eval.py; one release here must find it every time.)
REGION, START = "Taipei", "2024-01-01"
OUTBREAK = f"{REGION}:{START}:3:3"
OUTBREAK_WEEKS = {"2024-01-01", "2024-01-08", "2024-01-15"}


def run(args: list[str], home: Path) -> subprocess.CompletedProcess[str]:
    # a new home and the shipped policies, whatever another test left in the environment
    env = {k: v for k, v in os.environ.items() if not k.startswith("ENCLAVE_")}
    env.update(ENCLAVE_HOME=str(home), OPENBLAS_NUM_THREADS="1")
    out = subprocess.run(
        [sys.executable, "-m", "enclave", *args],
        env=env, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr + out.stdout
    return out


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("monitor-e2e")
    home, extract = root / "home", root / "extract"
    made = run(["synth", "--persons", "20000", "--seed", "2", "--out", str(extract),
                "--outbreak", OUTBREAK, "--json"], home)  # fmt: skip
    assert json.loads(made.stdout)["outbreaks"][0]["added_claims"] > 0
    run(["init"], home)
    run(["ingest", str(extract), "--format", "nhi", "--json"], home)
    released = json.loads(run(["indicators", "release", "--all", "--json"], home).stdout)
    assert released["released"] == 315 and released["refused"] == 0
    return home


def test_alerts_json_shows_the_injected_outbreak(home: Path) -> None:
    feed = json.loads(run(["indicators", "alerts", "--json"], home).stdout)
    rows = feed["alerts"]
    assert len(rows) == 3 * 105 * 22  # every indicator × week × region
    assert {r["level"] for r in rows} <= {"none", "warning", "alert"}
    hits = [r for r in rows if r["indicator"] == "ili" and r["region"] == REGION
            and r["week"] in OUTBREAK_WEEKS and r["level"] == "alert"]  # fmt: skip
    assert hits, "the injected outbreak raised no alert"
    first = min(hits, key=lambda r: r["week"])
    assert first["observed"] > first["threshold"] > first["expected"] >= 10
    assert first["detectors"]["farrington"]["level"] == "alert"
    assert first["noise_se"] == pytest.approx(1.72, abs=0.01)
    # Alerts are rare elsewhere: under 1% of the cells with a baseline.
    judged = [r for r in rows if r["status"] == "ok"]
    assert sum(r["level"] == "alert" for r in judged) < 0.01 * len(judged)
    # The extract ends on a Tuesday: its last week is provisional, and never flagged.
    assert feed["data_through"] == "2024-12-31"
    last = [r for r in rows if r["week"] == "2024-12-30"]
    assert last and all(r["provisional"] and r["level"] == "none" for r in last)


def test_alerts_text_and_one_indicator(home: Path) -> None:
    text = run(["indicators", "alerts", "--indicator", "ili"], home).stdout
    assert "alert" in text and REGION in text and "{" not in text
    only = json.loads(run(["indicators", "alerts", "--indicator", "covid", "--json"], home).stdout)
    assert {r["indicator"] for r in only["alerts"]} == {"covid"}


def test_alerts_over_http_without_a_token(home: Path) -> None:
    with running_server(Settings(home=home), workers=1) as srv:
        got = httpx.get(f"{srv.url}/v1/alerts", params={"indicator": "ili"}, timeout=120)
        assert got.status_code == 200
        rows = got.json()["alerts"]
        assert len(rows) == 105 * 22
        assert any(r["region"] == REGION and r["week"] in OUTBREAK_WEEKS
                   and r["level"] == "alert" for r in rows)  # fmt: skip
        as_csv = httpx.get(f"{srv.url}/v1/alerts", params={"format": "csv"}, timeout=120)
        assert as_csv.status_code == 200 and as_csv.headers["content-type"].startswith("text/csv")
        table = list(csv.DictReader(io.StringIO(as_csv.text)))
        assert len(table) == 3 * 105 * 22 and table[0]["level"] in ("none", "warning", "alert")
        missing = httpx.get(f"{srv.url}/v1/alerts", params={"indicator": "nope"}, timeout=60)
        assert missing.status_code == 404
        assert "/v1/alerts" in httpx.get(f"{srv.url}/openapi.json").json()["paths"]
