"""Budget exactness under real concurrency: processes and threads racing for one budget.

Each budget fits exactly 50 charges: a pure project's ε = 5 in charges of 0.1, and a zcdp
project's ρ (its ε = 5 turned into ρ, in the ledger's integer units, rounded down) in
charges of 1/50 of it (rounded down, so a 51st never fits).
"""

from __future__ import annotations

import contextlib
import multiprocessing as mp
import sqlite3
import sys
import types
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest

from enclave.errors import BudgetExhausted
from enclave.policy import Accounting
from enclave.settings import Settings
from enclave.store import BudgetAsk, BudgetLimits, from_rho_units, open_store, to_rho_units

ZCDP = BudgetLimits(epsilon=5.0, delta=5e-7, accounting=Accounting("zcdp", 1e-6))
RHO_CAP = to_rho_units(ZCDP.accounting.rho(5.0), charge=False)


@dataclass(frozen=True)
class Budget:
    """One project's budget, the charge every request asks, and what 50 of them leave."""

    limits: BudgetLimits
    epsilon: float
    rho_units: int = 0  # per charge (zcdp)

    def ask(self, user: str, rid: str) -> BudgetAsk:
        rho = from_rho_units(self.rho_units)
        return BudgetAsk("demo", user, self.epsilon, 0.0, rid, "h" * 64, self.limits, rho=rho)

    def check(self, store, con: sqlite3.Connection) -> None:
        status = store.budget("demo", self.limits)
        if not self.rho_units:
            assert status.epsilon_spent == 5.0 and status.epsilon_remaining == 0.0
            (micro,) = con.execute("SELECT SUM(epsilon_micro) FROM budget_ledger").fetchone()
            assert micro == 5_000_000
            return
        spent = 50 * self.rho_units
        assert status.rho_spent == from_rho_units(spent) <= status.rho_total
        assert status.rho_remaining == from_rho_units(RHO_CAP - spent)
        assert status.epsilon_spent <= 5.0
        (units,) = con.execute("SELECT SUM(rho_units) FROM budget_ledger").fetchone()
        assert units == spent


BUDGETS = {
    "pure": Budget(BudgetLimits(epsilon=5.0, delta=1e-6), 0.1),
    "zcdp": Budget(ZCDP, 0.4, RHO_CAP // 50),
}


def _attempts(store, budget: Budget, worker: int, n: int) -> tuple[int, int]:
    ok = refused = 0
    for i in range(n):
        try:
            r = store.reserve(budget.ask(f"u{worker % 3}", f"{worker}-{i}"))
        except BudgetExhausted:
            refused += 1
            continue
        store.commit(r, cache_key=f"{worker}-{i}", release={"w": worker, "i": i})
        ok += 1
    return ok, refused


def _process(home: str, model: str, worker: int, n: int, start, out) -> None:
    with open_store(Settings(home=Path(home))) as store:
        start.wait(60)
        out.put(_attempts(store, BUDGETS[model], worker, n))


def _check_ledger(home: Path, budget: Budget, expected_ok: int) -> None:
    con = sqlite3.connect(home / "metadata.sqlite")
    try:
        with open_store(Settings(home=home)) as store:
            budget.check(store, con)
            verification = store.audit_log.verify()
            assert verification.ok and verification.records == 2 * expected_ok
        (n,) = con.execute("SELECT COUNT(*) FROM budget_ledger WHERE status='committed'").fetchone()
    finally:
        con.close()
    assert n == expected_ok


@contextlib.contextmanager
def _bare_main() -> Iterator[None]:
    """Start spawned processes with an empty ``__main__``: a spawned child re-imports the
    parent's main module, and an earlier AppTest in this worker leaves a dashboard page
    there (the children would run the page instead of reporting)."""
    main = sys.modules["__main__"]
    sys.modules["__main__"] = types.ModuleType("__main__")
    try:
        yield
    finally:
        sys.modules["__main__"] = main


@pytest.mark.slow
@pytest.mark.parametrize("model", sorted(BUDGETS))
def test_eight_processes_never_overspend(tmp_path, model):
    ctx = mp.get_context("spawn")
    start, out = ctx.Event(), ctx.Queue()
    home = tmp_path / "home"
    open_store(Settings(home=home)).close()
    procs = [
        ctx.Process(target=_process, args=(str(home), model, w, 25, start, out)) for w in range(8)
    ]
    with _bare_main():
        for p in procs:
            p.start()
    start.set()
    results = [out.get(timeout=180) for _ in procs]
    for p in procs:
        p.join(60)
        assert p.exitcode == 0
    assert sum(ok for ok, _ in results) == 50
    assert sum(refused for _, refused in results) == 150
    _check_ledger(home, BUDGETS[model], 50)


@pytest.mark.parametrize("model", sorted(BUDGETS))
def test_threads_sharing_one_store_never_overspend(tmp_path, model):
    home = tmp_path / "home"
    budget = BUDGETS[model]
    with open_store(Settings(home=home)) as store, ThreadPoolExecutor(8) as pool:
        results = list(pool.map(lambda w: _attempts(store, budget, w, 10), range(8)))
    assert sum(ok for ok, _ in results) == 50
    assert sum(refused for _, refused in results) == 30
    _check_ledger(home, budget, 50)
