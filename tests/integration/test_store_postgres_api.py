"""Two API instances (two ``enclave serve`` processes on different ports, different
ENCLAVE_HOMEs) share one PostgreSQL metadata store: 200 parallel requests, split between
them, race for a budget that allows exactly 50 — exactly 50 are charged."""

from __future__ import annotations

import asyncio
import dataclasses

import httpx
import pytest

from enclave.store import open_store
from tests import conftest_pg
from tests._api_server import (
    RESEARCHER,
    base_warehouse,
    new_home,
    race_project,
    running_server,
    seed_accounts,
)
from tests.integration.test_concurrency_api import _sql

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

pg_server = conftest_pg.pg_server  # fixtures
pg_url = conftest_pg.pg_url


async def _fire(url: str, token: str, queries: range) -> list[httpx.Response | BaseException]:
    limits = httpx.Limits(max_connections=64, max_keepalive_connections=64)
    headers = {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(base_url=url, headers=headers, timeout=120, limits=limits) as c:
        tasks = [
            c.post("/v1/queries", json={"sql": _sql(i), "project": "race", "epsilon": 0.1})
            for i in queries
        ]
        return await asyncio.gather(*tasks, return_exceptions=True)


async def _both(urls: list[str], token: str) -> list[httpx.Response | BaseException]:
    """200 distinct queries (no cache hits): 0..99 to the first server, 100..199 to the other."""
    halves = await asyncio.gather(
        *(_fire(u, token, range(100 * i, 100 * (i + 1))) for i, u in enumerate(urls))
    )
    return [r for half in halves for r in half]


def test_two_instances_share_budget_exactly(tmp_path_factory, pg_url, monkeypatch):
    import psycopg

    monkeypatch.setenv("ENCLAVE_STORE_URL", pg_url)  # inherited by both servers
    base = base_warehouse(tmp_path_factory.getbasetemp())
    homes = [
        dataclasses.replace(
            new_home(tmp_path_factory.mktemp(f"pg-api-{i}"), base), store_url=pg_url
        )
        for i in range(2)
    ]
    tokens = seed_accounts(homes[0])
    race_project(homes[0], "race", 5.0)
    with running_server(homes[0], workers=1) as a, running_server(homes[1], workers=1) as b:
        results = asyncio.run(_both([a.url, b.url], tokens[RESEARCHER]))
    codes = [r.status_code for r in results if isinstance(r, httpx.Response)]
    failed = sorted({type(r).__name__ for r in results if not isinstance(r, httpx.Response)})
    assert len(codes) == 200, f"every request got an answer (not: {failed})"
    assert (codes.count(200), codes.count(429)) == (50, 150)
    assert not any(c >= 500 for c in codes)
    # Unshared budgets would have let each instance charge 50 (100 in all).
    with psycopg.connect(pg_url) as con:
        ledger = con.execute(
            "SELECT status, COUNT(*), SUM(epsilon_micro) FROM budget_ledger"
            " WHERE project = 'race' GROUP BY status"
        ).fetchall()
        cached = con.execute("SELECT COUNT(*) FROM release_cache WHERE project = 'race'").fetchone()
    assert [(s, n, int(m)) for s, n, m in ledger] == [("committed", 50, 5_000_000)]
    assert cached == (50,)
    for home in homes:
        assert not home.metadata_path.exists(), "no SQLite store was used"
    with open_store(homes[1]) as store:
        assert store.audit_log.verify().ok
