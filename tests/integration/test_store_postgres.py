"""The metadata store on a real PostgreSQL server: same interface and semantics as SQLite,
and budgets shared exactly by many connections (threads, processes, API instances)."""

from __future__ import annotations

import datetime as dt
import functools
import multiprocessing as mp
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from enclave.errors import BudgetExhausted, Conflict, InternalError, UserError
from enclave.settings import Settings
from enclave.store import BudgetLimits, TopUp, open_store
from tests import conftest_pg
from tests._store_rows import apply_project, fill_audit, reserve

pytestmark = pytest.mark.postgres

pg_server = conftest_pg.pg_server  # fixtures
pg_url = conftest_pg.pg_url

LIMITS = BudgetLimits(epsilon=5.0, delta=1e-6)


def _settings(tmp_path: Path, url: str) -> Settings:
    return Settings(home=tmp_path / "home", store_url=url)


@pytest.fixture
def store(tmp_path, pg_url):
    with open_store(_settings(tmp_path, pg_url)) as s:
        yield s


_reserve = functools.partial(reserve, limits=LIMITS)


def _sql(url: str, *statements: str) -> list[tuple]:
    import psycopg

    out: list[tuple] = []
    with psycopg.connect(url, autocommit=True) as con:
        for s in statements:
            cur = con.execute(s)
            if cur.description:
                out.extend(cur.fetchall())
    return out


def test_postgres_is_selected_by_store_url(store, tmp_path, pg_url):
    assert store._db.dialect.name == "postgresql"
    assert not (tmp_path / "home" / "metadata.sqlite").exists()
    tables = {r[0] for r in _sql(pg_url, "SELECT tablename FROM pg_tables")}
    assert {"budget_ledger", "release_cache", "audit_log", "audit_head", "tokens"} <= tables


def test_bad_store_url_is_a_user_error(tmp_path):
    with pytest.raises(UserError, match="postgresql://"):
        open_store(_settings(tmp_path, "mysql://x@y/z"))


def test_unreachable_server_message_hides_password(tmp_path):
    url = "postgresql://u:hunter2@127.0.0.1:1/db"
    with pytest.raises(UserError) as info:
        open_store(_settings(tmp_path, url))
    assert "hunter2" not in str(info.value) and "ENCLAVE_STORE_URL" in str(info.value)


def test_reserve_commit_cache_and_budget(store):
    r = _reserve(store, 0.3, delta=1e-7)
    assert store.budget("demo", LIMITS).epsilon_reserved == pytest.approx(0.3)
    store.commit(r, cache_key="k", release={"rows": [[1, 2.5]]})
    status = store.budget("demo", LIMITS, user="ana")
    assert (status.epsilon_spent, status.epsilon_remaining) == (0.3, 4.7)
    assert status.delta_spent == pytest.approx(1e-7) and status.epsilon_reserved == 0
    assert store.cached_release("demo", "k") == {"rows": [[1, 2.5]]}
    assert store.cached_release("other", "k") is None


def test_cancel_refunds_and_settling_twice_is_a_bug(store):
    r = _reserve(store, 1.0)
    store.ledger.cancel(r, error_type="QueryRejected")
    assert store.budget("demo", LIMITS).epsilon_spent == 0
    with pytest.raises(InternalError):
        store.commit(r, cache_key="k", release={})


def test_overspend_refused_with_requested_and_remaining(store):
    store.commit(_reserve(store, 4.5), cache_key="a", release={})
    with pytest.raises(BudgetExhausted, match=r"Requested ε=0.60; remaining ε=0.50"):
        _reserve(store, 0.6)
    assert store.budget("demo", LIMITS).epsilon_spent == 4.5


def test_member_cap_and_top_up(store):
    limits = BudgetLimits(epsilon=5.0, member_epsilon=1.0)
    store.commit(_reserve(store, 1.0, limits=limits), cache_key="a", release={})
    with pytest.raises(BudgetExhausted, match="member"):
        _reserve(store, 0.1, limits=limits)
    store.ledger.top_up(TopUp("demo", 0.5, 0.0, "extension", member="ana"), steward="st")
    store.commit(_reserve(store, 0.5, limits=limits), cache_key="b", release={})
    assert store.budget("demo", limits, user="ana").member_epsilon_remaining == 0


def test_state_is_shared_by_a_second_store_instance(store, tmp_path, pg_url):
    store.commit(_reserve(store, 2.0), cache_key="k", release={"x": 1})
    with open_store(_settings(tmp_path / "other", pg_url)) as other:
        assert other.budget("demo", LIMITS).epsilon_spent == 2.0
        assert other.cached_release("demo", "k") == {"x": 1}
        assert other.audit_log.verify().ok


def test_accounts_round_trip(store, tmp_path, pg_url):
    store.accounts.add_user("ana", "researcher")
    with pytest.raises(Conflict):
        store.accounts.add_user("ana", "researcher")
    token = store.accounts.issue_token("ana", dt.timedelta(days=1), actor="st")
    with open_store(_settings(tmp_path / "other", pg_url)) as other:
        assert other.accounts.authenticate(token).user == "ana"
    stored = _sql(pg_url, "SELECT hash FROM tokens")
    assert len(stored) == 1 and stored[0][0].startswith("$argon2id$")
    assert token.split(".", 1)[1] not in stored[0][0]
    apply_project(store, "p1", applicant="ana", tables=("claims",))
    store.projects.add_member("p1", "ana", steward="st")
    assert store.projects.members("p1") == ["ana"] and store.projects.memberships("ana") == ["p1"]


@pytest.mark.parametrize(
    ("statements", "problem"),
    [
        (["UPDATE audit_log SET verdict = 'refused' WHERE seq = 3"], "edited"),
        (["DELETE FROM audit_log WHERE seq = 3"], "deleted"),
        (
            [
                "UPDATE audit_log SET seq = 100 WHERE seq = 3",
                "UPDATE audit_log SET seq = 3 WHERE seq = 4",
                "UPDATE audit_log SET seq = 4 WHERE seq = 100",
            ],
            "reordered",
        ),
        (["DELETE FROM audit_log WHERE seq >= 5"], "truncated"),
    ],
)
def test_audit_tampering_detected(store, pg_url, statements, problem):
    fill_audit(store, 6)
    assert store.audit_log.verify().ok
    _sql(pg_url, *statements)
    v = store.audit_log.verify()
    assert (v.ok, v.problem) == (False, problem)


def test_200_parallel_requests_charge_exactly_50(tmp_path, pg_url):
    """200 threads, each with its own store (own connection), race for ε = 5 at 0.1 each."""
    settings = _settings(tmp_path, pg_url)
    open_store(settings).close()
    n = 200
    barrier = threading.Barrier(n, timeout=120)

    def attempt(i: int) -> bool:
        with open_store(settings) as own:
            own.budget("demo", LIMITS)  # connect before the race starts
            barrier.wait()
            try:
                r = _reserve(own, 0.1, user=f"u{i % 7}", rid=f"req-{i}")
            except BudgetExhausted:
                return False
            own.commit(r, cache_key=f"k{i}", release={"i": i})
            return True

    with ThreadPoolExecutor(max_workers=n) as pool:
        results = list(pool.map(attempt, range(n)))
    assert sum(results) == 50
    with open_store(settings) as check:
        status = check.budget("demo", LIMITS)
        assert (status.epsilon_spent, status.epsilon_remaining) == (5.0, 0.0)
        v = check.audit_log.verify()
        assert v.ok and v.records == 2 * 50
    [(committed, micro)] = _sql(
        pg_url,
        "SELECT COUNT(*) FILTER (WHERE status = 'committed'), SUM(epsilon_micro)"
        " FROM budget_ledger",
    )
    assert (committed, micro) == (50, 5_000_000)


def _process(url: str, home: str, worker: int, start, out) -> None:
    ok = 0
    with open_store(Settings(home=Path(home), store_url=url)) as own:
        own.budget("demo", LIMITS)
        start.wait(60)
        for i in range(25):
            try:
                r = _reserve(own, 0.1, user=f"u{worker}", rid=f"{worker}-{i}")
            except BudgetExhausted:
                continue
            own.commit(r, cache_key=f"{worker}-{i}", release={})
            ok += 1
    out.put(ok)


@pytest.mark.slow
def test_eight_processes_share_one_budget(tmp_path, pg_url):
    ctx = mp.get_context("spawn")
    start, out = ctx.Event(), ctx.Queue()
    open_store(_settings(tmp_path, pg_url)).close()
    args = (pg_url, str(tmp_path / "home"))
    procs = [ctx.Process(target=_process, args=(*args, w, start, out)) for w in range(8)]
    for p in procs:
        p.start()
    start.set()
    total = sum(out.get(timeout=120) for _ in procs)
    for p in procs:
        p.join(60)
        assert p.exitcode == 0
    assert total == 50
    with open_store(_settings(tmp_path, pg_url)) as check:
        assert check.budget("demo", LIMITS).epsilon_spent == 5.0
        assert check.audit_log.verify().ok
