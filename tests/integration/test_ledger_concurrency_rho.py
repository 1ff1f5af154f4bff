"""ρ budgets under real concurrency: processes and threads racing for one zcdp budget.

Each charge holds exactly 1/50 of the project's ρ (in the ledger's integer units, the cap
rounded down first), so exactly 50 reservations fit and every other one is refused.
"""

from __future__ import annotations

import multiprocessing as mp
import sqlite3
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from enclave.errors import BudgetExhausted
from enclave.policy import Accounting
from enclave.settings import Settings
from enclave.store import BudgetAsk, BudgetLimits, from_rho_units, open_store, to_rho_units

LIMITS = BudgetLimits(epsilon=5.0, delta=5e-7, accounting=Accounting("zcdp", 1e-6))
CAP = to_rho_units(LIMITS.accounting.rho(5.0), charge=False)
SHARE = CAP // 50  # CAP - 50·SHARE < 50 ≤ SHARE: a 51st never fits


def _attempts(store, worker: int, n: int) -> tuple[int, int]:
    ok = refused = 0
    for i in range(n):
        rid = f"{worker}-{i}"
        ask = BudgetAsk(
            "demo", f"u{worker % 3}", 0.4, 0.0, rid, "h" * 64, LIMITS, rho=from_rho_units(SHARE)
        )
        try:
            r = store.reserve(ask)
        except BudgetExhausted:
            refused += 1
            continue
        store.commit(r, cache_key=rid, release={"w": worker, "i": i})
        ok += 1
    return ok, refused


def _process(home: str, worker: int, n: int, start, out) -> None:
    with open_store(Settings(home=Path(home))) as store:
        start.wait(60)
        out.put(_attempts(store, worker, n))


def _check_ledger(home: Path, expected_ok: int) -> None:
    with open_store(Settings(home=home)) as store:
        status = store.budget("demo", LIMITS)
        assert status.rho_spent == from_rho_units(50 * SHARE) <= status.rho_total
        assert status.rho_remaining == from_rho_units(CAP - 50 * SHARE)
        assert status.epsilon_spent <= 5.0
        verification = store.audit_log.verify()
        assert verification.ok and verification.records == 2 * expected_ok
    con = sqlite3.connect(home / "metadata.sqlite")
    try:
        (n,) = con.execute("SELECT COUNT(*) FROM budget_ledger WHERE status='committed'").fetchone()
        (units,) = con.execute("SELECT SUM(rho_units) FROM budget_ledger").fetchone()
    finally:
        con.close()
    assert (n, units) == (expected_ok, 50 * SHARE)


@pytest.mark.slow
def test_eight_processes_never_overspend_rho(tmp_path):
    ctx = mp.get_context("spawn")
    start, out = ctx.Event(), ctx.Queue()
    home = tmp_path / "home"
    open_store(Settings(home=home)).close()
    procs = [ctx.Process(target=_process, args=(str(home), w, 25, start, out)) for w in range(8)]
    for p in procs:
        p.start()
    start.set()
    results = [out.get(timeout=180) for _ in procs]
    for p in procs:
        p.join(60)
        assert p.exitcode == 0
    assert sum(ok for ok, _ in results) == 50
    assert sum(refused for _, refused in results) == 150
    _check_ledger(home, 50)


def test_threads_sharing_one_store_never_overspend_rho(tmp_path):
    home = tmp_path / "home"
    with open_store(Settings(home=home)) as store, ThreadPoolExecutor(8) as pool:
        results = list(pool.map(lambda w: _attempts(store, w, 10), range(8)))
    assert sum(ok for ok, _ in results) == 50
    assert sum(refused for _, refused in results) == 30
    _check_ledger(home, 50)
