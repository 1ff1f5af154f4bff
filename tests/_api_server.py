"""A real enclave behind a real ``enclave serve`` (uvicorn, ≥ 2 workers) on loopback.

The warehouse is built once per test process from the synthetic NHI-style generator and
the real ingest (2,000 persons); each server gets its own ENCLAVE_HOME with a copy of it
and a fresh metadata store.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from enclave.settings import Settings
from enclave.store import open_store

_BASE: dict[str, Path] = {}

STEWARD = "steward@enclave"
RESEARCHER = "researcher@demo"
OUTSIDER = "outsider@uni"
PUBLIC = "public@web"


def base_warehouse(tmp_root: Path) -> Path:
    """A home with a warehouse of 2,000 synthetic persons (built once per process)."""
    if "home" not in _BASE:
        from tests._data import ingested_home

        home = tmp_root / "base-home"
        ingested_home(Settings(home=home), 2000, seed=11)
        _BASE["home"] = home
    return _BASE["home"]


def new_home(tmp: Path, base: Path) -> Settings:
    """A fresh ENCLAVE_HOME sharing the base warehouse (copied), with an empty store."""
    tmp.mkdir(parents=True, exist_ok=True)
    settings = Settings(home=tmp)
    settings.ensure_home()
    shutil.copy(base / "warehouse.duckdb", tmp / "warehouse.duckdb")
    return settings


def seeded_home(factory: Any, name: str) -> tuple[Settings, dict[str, str]]:
    """A fresh home ``name`` under pytest's ``tmp_path_factory`` (the base warehouse, a
    store with the seeded accounts) and the accounts' tokens."""
    settings = new_home(factory.mktemp(name), base_warehouse(factory.getbasetemp()))
    return settings, seed_accounts(settings)


@contextlib.contextmanager
def seeded_server(factory: Any, name: str, **options: Any) -> Iterator[Server]:
    """A running server over ``seeded_home(factory, name)``, its tokens in ``tokens``."""
    settings, tokens = seeded_home(factory, name)
    with running_server(settings, **options) as srv:
        srv.tokens = tokens
        yield srv


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Server:
    url: str
    settings: Settings
    proc: subprocess.Popen[bytes]
    tokens: dict[str, str] = field(default_factory=dict, repr=False)

    def client(self, who: str | None = None, **kw: object) -> httpx.Client:
        headers = {} if who is None else {"Authorization": f"Bearer {self.tokens[who]}"}
        return httpx.Client(base_url=self.url, headers=headers, timeout=60, **kw)  # type: ignore[arg-type]

    def kill(self) -> None:
        """SIGKILL the server and its workers (its own process group, nothing else)."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=10)


def seed_accounts(settings: Settings) -> dict[str, str]:
    """A steward, a demo researcher, an outsider researcher and a public user, with tokens."""
    tokens = {}
    with open_store(settings) as store:
        for user, role in (
            (STEWARD, "steward"),
            (RESEARCHER, "researcher"),
            (OUTSIDER, "researcher"),
            (PUBLIC, "public"),
        ):
            store.accounts.add_user(user, role, actor="test")
            tokens[user] = store.accounts.issue_token(user, actor="test")
    return tokens


@contextlib.contextmanager
def running_server(
    settings: Settings, *, workers: int = 2, rate_limit: int = 100_000
) -> Iterator[Server]:
    port = free_port()
    env = {**os.environ, "ENCLAVE_HOME": str(settings.home)}
    env.pop("ENCLAVE_TOKEN", None)
    cmd = [sys.executable, "-m", "enclave", "serve", "--port", str(port)]
    cmd += ["--workers", str(workers), "--rate-limit", str(rate_limit)]
    log = open(settings.home / "serve.log", "wb")
    proc = subprocess.Popen(
        cmd, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
    )
    server = Server(f"http://127.0.0.1:{port}", settings, proc)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(server.url + "/healthz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("enclave serve did not start; see serve.log")
            time.sleep(0.1)
        yield server
    finally:
        if proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                server.kill()
        log.close()


def store_rows(settings: Settings) -> dict[str, int]:
    """Row counts of the store's domain tables (audit and rate counters excluded)."""
    import sqlite3

    con = sqlite3.connect(settings.metadata_path)
    try:
        names = [
            "users",
            "tokens",
            "projects",
            "memberships",
            "budget_ledger",
            "budget_topups",
            "release_cache",
            "service_project_policies",
            "service_reviews",
        ]
        have = {r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        out = {
            n: con.execute(f"SELECT COUNT(*) FROM {n}").fetchone()[0] if n in have else 0
            for n in names
        }
        out["revoked"] = con.execute(
            "SELECT COUNT(*) FROM tokens WHERE revoked IS NOT NULL"
        ).fetchone()[0]
        out["statuses"] = hash(tuple(con.execute("SELECT id, status FROM projects ORDER BY id")))
        return out
    finally:
        con.close()


def utc_in(seconds: float) -> dt.timedelta:
    return dt.timedelta(seconds=seconds)


def race_project(settings, pid: str, epsilon: float) -> None:
    """A project whose budget allows exactly ``epsilon / 0.1`` charges (service closed after)."""
    from enclave.service import Service
    from enclave.store import Principal

    steward = Principal(user=STEWARD, role="steward", token_id="test")
    svc = Service(settings)
    try:
        svc.apply_project(
            Principal(user=RESEARCHER, role="researcher", token_id="t"),
            pid,
            title="race",
            purpose="concurrency",
            tables=["persons"],
            requested_epsilon=epsilon,
        )
        rules = {"tables": {"persons": ["*"]}, "epsilon": epsilon, "max_epsilon_per_query": 0.1}
        svc.approve_project(steward, pid, rules)
    finally:
        svc.close()
