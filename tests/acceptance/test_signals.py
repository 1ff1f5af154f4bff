"""``enclave serve``, ``enclave dashboards`` and ``enclave demo`` leave nothing behind: a
SIGTERM or SIGINT sent to the command alone (not its process group) stops every process
it started, and its ports are free again.

Each command runs through its entry point in a session of its own, so its descendants are
exactly the processes of that group (read from /proc)."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests._api_server import base_warehouse, free_port, new_home

pytestmark = [pytest.mark.slow, pytest.mark.skipif(sys.platform != "linux", reason="/proc")]


def group(pgid: int) -> list[int]:
    """Live (non-zombie) processes whose process group is ``pgid``."""
    out = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError):
            stat = (entry / "stat").read_text()
            fields = stat.rsplit(")", 1)[1].split()
            if int(fields[2]) == pgid and fields[0] != "Z":
                out.append(int(entry.name))
    return out


def port_open(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex(("127.0.0.1", port)) == 0


@contextlib.contextmanager
def command(args: list[str], home: Path) -> Iterator[subprocess.Popen[bytes]]:
    env = {**os.environ, "ENCLAVE_HOME": str(home)}
    env.pop("ENCLAVE_TOKEN", None)
    log = open(home / f"{args[0]}.log", "wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "enclave", *args],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        yield proc
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
        log.close()


def wait_for(ready: object, proc: subprocess.Popen[bytes], seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while not ready():  # type: ignore[operator]
        assert proc.poll() is None, "the command ended before it was ready"
        assert time.monotonic() < deadline, "the command did not become ready"
        time.sleep(0.2)


def healthy(url: str) -> bool:
    try:
        return httpx.get(url, timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def assert_stops(proc: subprocess.Popen[bytes], signum: int, ports: list[int]) -> None:
    children = [p for p in group(proc.pid) if p != proc.pid]
    assert children, "the command started no child process"
    proc.send_signal(signum)  # to the command alone, as `kill PID` or a supervisor does
    proc.wait(timeout=30)
    deadline = time.monotonic() + 10
    while group(proc.pid) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert group(proc.pid) == [], "processes were left behind"
    assert not any(port_open(p) for p in ports)


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = base_warehouse(tmp_path_factory.getbasetemp())
    return new_home(tmp_path_factory.mktemp("signals-home"), base).home


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_serve_stops_its_workers(home: Path, signum: int) -> None:
    port = free_port()
    with command(["serve", "--port", str(port), "--workers", "2"], home) as proc:
        wait_for(lambda: healthy(f"http://127.0.0.1:{port}/healthz"), proc, 60)
        assert_stops(proc, signum, [port])


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_dashboards_stop_streamlit(home: Path, signum: int) -> None:
    port = free_port()
    with command(["dashboards", "--port", str(port)], home) as proc:
        wait_for(lambda: healthy(f"http://127.0.0.1:{port}/_stcore/health"), proc, 90)
        assert_stops(proc, signum, [port])


def test_demo_stops_the_api_and_the_dashboards(tmp_path: Path) -> None:
    api, dash = free_port(), free_port()
    args = ["demo", "--persons", "300", "--no-indicators"]
    args += ["--api-port", str(api), "--dashboard-port", str(dash)]
    with command(args, tmp_path) as proc:
        wait_for(
            lambda: (
                healthy(f"http://127.0.0.1:{api}/healthz")
                and healthy(f"http://127.0.0.1:{dash}/_stcore/health")
            ),
            proc,
            240,
        )
        assert_stops(proc, signal.SIGTERM, [api, dash])
