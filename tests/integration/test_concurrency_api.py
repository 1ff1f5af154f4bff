"""Budget charging stays exact under parallel HTTP clients and worker crashes.

A real ``enclave serve`` with 2 uvicorn workers shares one metadata store. 200 distinct
queries at ε = 0.1 race for a budget of ε = 5 (exactly 50 of them): exactly 50 are
charged and released, 150 are refused with 429 BudgetExhausted, and the ledger, the
release cache and the audit log agree. Then a server is SIGKILLed in the middle of a
load, and every charge still has its audit record and no release lacks a charge.
"""

from __future__ import annotations

import asyncio
import sqlite3
import time

import httpx
import pytest

from enclave.store import Principal, open_store
from tests._api_server import RESEARCHER, STEWARD, race_project, running_server, seeded_home

pytestmark = pytest.mark.slow

STEW = Principal(user=STEWARD, role="steward", token_id="test")


def _sql(i: int) -> str:
    return f"SELECT sex, COUNT(*) AS n FROM persons WHERE birth_year <> {1000 + i} GROUP BY sex"


async def _fire(url: str, token: str, pid: str, n: int) -> list[httpx.Response | Exception]:
    limits = httpx.Limits(max_connections=64, max_keepalive_connections=64)
    headers = {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(base_url=url, headers=headers, timeout=120, limits=limits) as c:
        tasks = [
            c.post("/v1/queries", json={"sql": _sql(i), "project": pid, "epsilon": 0.1})
            for i in range(n)
        ]
        return await asyncio.gather(*tasks, return_exceptions=True)


def _db(settings) -> sqlite3.Connection:
    return sqlite3.connect(settings.metadata_path)


def test_200_parallel_requests_charge_exactly_50(tmp_path_factory):
    settings, tokens = seeded_home(tmp_path_factory, "race-home")
    race_project(settings, "race", 5.0)
    with running_server(settings, workers=2) as srv:
        results = asyncio.run(_fire(srv.url, tokens[RESEARCHER], "race", 200))
    codes = [r.status_code for r in results if isinstance(r, httpx.Response)]
    assert len(codes) == 200, "every request got an answer"
    assert codes.count(200) == 50
    assert codes.count(429) == 150
    refused = [r.json()["error"]["type"] for r in results if r.status_code == 429]
    assert set(refused) == {"BudgetExhausted"}
    assert not any(c >= 500 for c in codes)
    con = _db(settings)
    try:
        ledger = con.execute(
            "SELECT status, COUNT(*), SUM(epsilon_micro) FROM budget_ledger WHERE project = 'race'"
            " GROUP BY status"
        ).fetchall()
        assert ledger == [("committed", 50, 5_000_000)]
        cached = con.execute("SELECT COUNT(*) FROM release_cache WHERE project = 'race'").fetchone()
        assert cached == (50,)
        audit = dict(
            con.execute(
                "SELECT action || ':' || verdict || ':' || COALESCE(error_type, ''), COUNT(*)"
                " FROM audit_log WHERE project = 'race' GROUP BY 1"
            ).fetchall()
        )
    finally:
        con.close()
    assert audit["release:released:"] == 50
    assert audit["reserve:reserved:"] == 50
    assert audit["query:released:"] == 50
    assert audit["query:refused:BudgetExhausted"] == 150
    with open_store(settings) as store:
        assert store.audit_log.verify().ok


def test_killed_server_leaves_no_uncharged_release_and_no_unaudited_charge(tmp_path_factory):
    settings, tokens = seeded_home(tmp_path_factory, "kill-home")
    race_project(settings, "crash", 50.0)
    with running_server(settings, workers=2) as srv:

        async def load_then_kill() -> None:
            task = asyncio.ensure_future(_fire(srv.url, tokens[RESEARCHER], "crash", 120))
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:  # kill once some are committed
                await asyncio.sleep(0.05)
                con = _db(settings)
                try:
                    done = con.execute(
                        "SELECT COUNT(*) FROM budget_ledger WHERE status = 'committed'"
                    ).fetchone()[0]
                finally:
                    con.close()
                if done >= 10:
                    break
            srv.kill()
            await task

        asyncio.run(load_then_kill())
    con = _db(settings)
    try:
        ledger = con.execute(
            "SELECT id, status FROM budget_ledger WHERE project = 'crash'"
        ).fetchall()
        cache = con.execute(
            "SELECT reservation FROM release_cache WHERE project = 'crash'"
        ).fetchall()
        details = con.execute(
            "SELECT action, detail FROM audit_log WHERE project = 'crash'"
        ).fetchall()
    finally:
        con.close()
    status = dict(ledger)
    reserved_audit = {d.split()[-1] for a, d in details if a == "reserve"}
    released_audit = {d.split()[-1] for a, d in details if a == "release"}
    committed = {i for i, s in ledger if s == "committed"}
    assert 0 < len(committed) < 120, "the kill landed mid-load"
    assert set(status) == reserved_audit, "every charge has its reservation audited"
    assert committed == released_audit, "every committed charge has its release audited"
    assert {r for (r,) in cache} == committed, "no release in the cache without a charge"
    with open_store(settings) as store:
        assert store.audit_log.verify().ok
