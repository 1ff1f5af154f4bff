"""Start the real dashboards (``streamlit run`` on a free loopback port) and screenshot
every page with headless Chromium; the PNGs land in tests/_artifacts/ for a person to look
at. Skipped, with the reason, only when Chromium is not installed."""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import struct
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from enclave.cli._dashboards import page_urls, streamlit_command
from tests._cdp import Browser
from tests._dashboards_env import Env, build
from tests._paths import ROOT

pytestmark = [pytest.mark.slow, pytest.mark.browser]

ARTIFACTS = ROOT / "tests" / "_artifacts"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_healthy(port: int, proc: subprocess.Popen, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError("streamlit exited before it was healthy")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=2) as r:
                if r.status == 200:
                    return
        except OSError:
            time.sleep(0.5)
    raise AssertionError("streamlit did not become healthy in time")


def _png_size(path: Path) -> tuple[int, int]:
    head = path.read_bytes()[:24]
    assert head[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">II", head[16:24])


@contextlib.contextmanager
def served_dashboards(
    environ: dict[str, str], profile: Path
) -> Iterator[tuple[dict[str, str], Browser]]:
    """``streamlit run`` on a free loopback port with ``environ``, and a headless Chromium;
    the page URLs and the browser, both stopped afterwards."""
    port = _free_port()
    proc = subprocess.Popen(
        streamlit_command("127.0.0.1", port),
        env={**os.environ, **environ},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    browser = None
    try:
        _wait_healthy(port, proc)
        browser = Browser(CHROMIUM, profile)
        yield page_urls("127.0.0.1", port), browser
    finally:
        if browser is not None:
            browser.close()
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory):
    if CHROMIUM is None:
        pytest.skip("headless Chromium is not installed (scripts/ensure-system-packages.sh)")
    env: Env = build(tmp_path_factory.mktemp("shots"))
    with served_dashboards(env.environ(), tmp_path_factory.mktemp("chrome")) as (urls, browser):
        yield urls, browser, env


def _save(browser: Browser, name: str) -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    out = ARTIFACTS / f"{name}.png"
    out.unlink(missing_ok=True)
    browser.screenshot(out)
    width, height = _png_size(out)
    assert (width, height) == (1400, 1000)
    # A rendered page compresses far worse than a blank one (a blank PNG is a few KB).
    assert out.stat().st_size > 30_000
    return out


def _text(browser: Browser) -> str:
    return str(browser.js("document.body.innerText"))


def _sign_in(browser: Browser, url: str, token: str) -> None:
    browser.open(url)
    browser.type_into("input[type=password]", token)
    browser.click("Sign in")
    browser.wait_for("Signed in as")


def test_monitor(served) -> None:
    urls, browser, _ = served
    browser.open(urls["monitor"])
    _save(browser, "monitor")
    text = _text(browser)
    assert "Public-health monitor" in text and "Alerts this week" in text
    assert "Traceback" not in text


def test_researcher_console(served) -> None:
    urls, browser, env = served
    _sign_in(browser, urls["researcher"], env.researcher_token)
    browser.click("Estimate cost")
    browser.click("Run")
    browser.wait_for("Released result")
    browser.js(
        "[...document.querySelectorAll('h3')]"
        ".find(h => h.innerText.includes('Released result')).scrollIntoView()"
    )
    browser.settle()
    _save(browser, "researcher")
    text = _text(browser)
    assert "Released result" in text and "Download Parquet" in text  # tables are canvases
    assert "Traceback" not in text


def _statuses(env: Env) -> dict[str, str]:
    from enclave.service import Service

    svc = Service.open(env.settings)
    try:
        return {r.id: r.status for r in svc.store.projects.all()}
    finally:
        svc.close()


def _approvals(env: Env) -> list[dict]:
    from enclave.service import Service

    svc = Service.open(env.settings)
    try:
        return [r for r in svc.store.audit_log.export() if r["action"] == "project_active"]
    finally:
        svc.close()


def test_steward_approval_changes_only_the_chosen_project(served) -> None:
    """Approve one application; click Approve again; choose another and press Enter in its
    reason field: exactly one project changed, with the reason in the audit log."""
    urls, browser, env = served
    before, approvals = _statuses(env), len(_approvals(env))
    _sign_in(browser, urls["steward"], env.steward_token)
    assert "Pending project applications" in _text(browser)
    assert not browser.has_button("Approve")  # nothing is preselected
    browser.choose("Application to decide", "flu-study")
    browser.fill("Reason (kept in the audit log)", "ethics approval on file")
    browser.click("Approve")
    browser.wait_for("Project flu-study is now active")
    if browser.has_button("Approve"):  # a second click must not reach another project
        browser.click("Approve")
    browser.choose("Application to decide", "cost-study")
    browser.fill("Reason (kept in the audit log)", "not decided yet")
    browser.press_enter()
    _save(browser, "steward")
    after = _statuses(env)
    changed = {p for p in after if after[p] != before.get(p)}
    assert changed == {"flu-study"} and after["flu-study"] == "active"
    assert after["cost-study"] == "pending"
    new = _approvals(env)[approvals:]
    assert [(r["project"], r["actor"]) for r in new] == [("flu-study", "steward@test")]
    assert new[0]["detail"].startswith("ethics approval on file;")
    assert "cost-study is now" not in _text(browser)


def test_steward_audit(served) -> None:
    urls, browser, env = served
    _sign_in(browser, urls["steward-audit"], env.steward_token)
    browser.click("Verify chain")
    browser.wait_for("audit chain is intact")
    _save(browser, "steward-audit")
    assert "The audit chain is intact" in _text(browser)
    browser.tab("Ingest")
    browser.wait_for("Quarantined rows by reason")
    _save(browser, "steward-ingest")
    assert "probably a bug" not in _text(browser)
