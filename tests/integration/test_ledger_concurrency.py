"""Budget exactness under real concurrency: processes and threads racing for one budget."""

from __future__ import annotations

import multiprocessing as mp
import sqlite3
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from enclave.errors import BudgetExhausted
from enclave.settings import Settings
from enclave.store import BudgetLimits, open_store
from tests._store_rows import reserve

LIMITS = BudgetLimits(epsilon=5.0, delta=1e-6)


def _attempts(store, worker: int, n: int) -> tuple[int, int]:
    ok = refused = 0
    for i in range(n):
        try:
            r = reserve(store, 0.1, limits=LIMITS, user=f"u{worker % 3}", rid=f"{worker}-{i}")
        except BudgetExhausted:
            refused += 1
            continue
        store.commit(r, cache_key=f"{worker}-{i}", release={"w": worker, "i": i})
        ok += 1
    return ok, refused


def _process(home: str, worker: int, n: int, start, out) -> None:
    with open_store(Settings(home=Path(home))) as store:
        start.wait(60)
        out.put(_attempts(store, worker, n))


def _check_ledger(home: Path, expected_ok: int) -> None:
    with open_store(Settings(home=home)) as store:
        status = store.budget("demo", LIMITS)
        assert status.epsilon_spent == 5.0 and status.epsilon_remaining == 0.0
        verification = store.audit_log.verify()
        assert verification.ok and verification.records == 2 * expected_ok
    con = sqlite3.connect(home / "metadata.sqlite")
    try:
        (n,) = con.execute("SELECT COUNT(*) FROM budget_ledger WHERE status='committed'").fetchone()
        (micro,) = con.execute("SELECT SUM(epsilon_micro) FROM budget_ledger").fetchone()
    finally:
        con.close()
    assert (n, micro) == (expected_ok, 5_000_000)


@pytest.mark.slow
def test_eight_processes_never_overspend(tmp_path):
    ctx = mp.get_context("spawn")
    start, out = ctx.Event(), ctx.Queue()
    home = tmp_path / "home"
    open_store(Settings(home=home)).close()
    procs = [ctx.Process(target=_process, args=(str(home), w, 25, start, out)) for w in range(8)]
    for p in procs:
        p.start()
    start.set()
    results = [out.get(timeout=120) for _ in procs]
    for p in procs:
        p.join(60)
        assert p.exitcode == 0
    assert sum(ok for ok, _ in results) == 50
    assert sum(refused for _, refused in results) == 150
    _check_ledger(home, 50)


def test_threads_sharing_one_store_never_overspend(tmp_path):
    home = tmp_path / "home"
    with open_store(Settings(home=home)) as store, ThreadPoolExecutor(8) as pool:
        results = list(pool.map(lambda w: _attempts(store, w, 10), range(8)))
    assert sum(ok for ok, _ in results) == 50
    _check_ledger(home, 50)
