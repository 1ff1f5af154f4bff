"""Budget ledger and release cache: reserve, commit, cancel, top-ups, refusals."""

from __future__ import annotations

import functools
import sqlite3
import subprocess
import sys
import textwrap

import pytest

from enclave.errors import BudgetExhausted, InternalError, UserError
from enclave.policy import load_project_policies
from enclave.settings import Settings
from enclave.store import BudgetLimits, TopUp, open_store
from tests._store_rows import metadata_rows as _rows
from tests._store_rows import reserve

#: The default limits of a reservation here (tests pass their own where they matter).
_reserve = functools.partial(reserve, limits=BudgetLimits(epsilon=1.0, delta=1e-6))


def _dump(settings):
    con = sqlite3.connect(settings.metadata_path)
    try:
        return list(con.iterdump())
    finally:
        con.close()


def test_reserve_then_commit_charges_and_caches(store, settings):
    limits = BudgetLimits(epsilon=1.0, delta=1e-6)
    r = _reserve(store, 0.3, delta=1e-7, limits=limits)
    assert store.budget("demo", limits).epsilon_spent == pytest.approx(0.3)
    assert store.budget("demo", limits).epsilon_reserved == pytest.approx(0.3)
    store.commit(r, cache_key="k1", release={"columns": ["n"], "rows": [[12.5]]})
    status = store.budget("demo", limits)
    assert (status.epsilon_spent, status.epsilon_remaining, status.epsilon_reserved) == (
        0.3,
        0.7,
        0.0,
    )
    assert status.delta_spent == pytest.approx(1e-7)
    assert "ε and δ add up" in status.composition
    assert store.cached_release("demo", "k1") == {"columns": ["n"], "rows": [[12.5]]}
    assert store.cached_release("demo", "other") is None
    assert store.cached_release("elsewhere", "k1") is None
    actions = [r[0] for r in _rows(settings, "SELECT action FROM audit_log ORDER BY seq")]
    assert actions == ["reserve", "release"]


def test_cancel_refunds_and_is_audited(store, settings):
    limits = BudgetLimits(epsilon=1.0)
    r = _reserve(store, 0.4, limits=limits)
    store.ledger.cancel(r, error_type="QueryTimeout")
    assert store.budget("demo", limits).epsilon_spent == 0.0
    last = _rows(settings, "SELECT action, verdict, error_type FROM audit_log ORDER BY seq")[-1]
    assert last == ("cancel", "refunded", "QueryTimeout")
    with pytest.raises(InternalError):
        store.commit(r, cache_key="k", release={})  # a cancelled reservation stays cancelled
    assert store.cached_release("demo", "k") is None


def test_settling_twice_is_a_bug(store):
    r = _reserve(store, 0.1)
    store.commit(r, cache_key="k", release={"a": 1})
    with pytest.raises(InternalError):
        store.ledger.cancel(r, error_type="X")
    assert store.budget("demo", BudgetLimits(1.0)).epsilon_spent == pytest.approx(0.1)


def test_overspend_refused_with_requested_remaining_difference(store, settings):
    limits = BudgetLimits(epsilon=1.0)
    _reserve(store, 0.7, limits=limits)
    before = _rows(settings, "SELECT COUNT(*) FROM audit_log")
    with pytest.raises(BudgetExhausted) as info:
        _reserve(store, 0.5, limits=limits)
    msg = str(info.value)
    assert "Requested ε=0.50; remaining ε=0.30 for project 'demo' (difference 0.20)." in msg
    assert "top-up" in msg
    assert store.budget("demo", limits).epsilon_spent == pytest.approx(0.7)
    assert _rows(settings, "SELECT COUNT(*) FROM audit_log") == before  # refusal rolled back
    _reserve(store, 0.3, limits=limits)  # exactly what remains is still allowed
    assert store.budget("demo", limits).epsilon_remaining == 0.0


def test_refusal_can_be_audited_after_a_failed_reserve(store):
    from enclave.store import AuditRecord

    with pytest.raises(BudgetExhausted):
        _reserve(store, 2.0)
    seq = store.audit(
        AuditRecord.now(
            action="query",
            verdict="refused",
            actor="ana",
            project="demo",
            error_type="BudgetExhausted",
            epsilon=2.0,
        )
    )
    assert seq == 1 and store.audit_log.verify().ok


def test_delta_and_member_limits(store):
    limits = BudgetLimits(epsilon=10.0, delta=1e-6, member_epsilon=1.0)
    with pytest.raises(BudgetExhausted, match="δ"):
        _reserve(store, 0.1, delta=2e-6, limits=limits)
    _reserve(store, 0.8, user="ana", limits=limits)
    with pytest.raises(BudgetExhausted, match="member 'ana' of project 'demo'"):
        _reserve(store, 0.3, user="ana", limits=limits)
    _reserve(store, 0.9, user="ben", limits=limits)  # another member has their own cap
    status = store.budget("demo", limits, user="ana")
    assert status.member_epsilon_spent == pytest.approx(0.8)
    assert status.member_epsilon_remaining == pytest.approx(0.2)
    assert status.epsilon_spent == pytest.approx(1.7)


def test_projects_do_not_share_budgets(store):
    limits = BudgetLimits(epsilon=0.5)
    _reserve(store, 0.5, limits=limits, project="a")
    _reserve(store, 0.5, limits=limits, project="b")
    with pytest.raises(BudgetExhausted):
        _reserve(store, 0.1, limits=limits, project="a")


def test_top_up_raises_project_and_member_caps(store, settings):
    limits = BudgetLimits(epsilon=1.0, member_epsilon=1.0)
    _reserve(store, 1.0, limits=limits)
    store.ledger.top_up(TopUp("demo", 0.5, 0.0, "second wave"), steward="st")
    _reserve(store, 0.5, limits=limits)
    store.ledger.top_up(TopUp("demo", 1.0, 0.0, "ben only", member="ben"), steward="st")
    with pytest.raises(BudgetExhausted):  # a member top-up does not raise the project total
        _reserve(store, 0.1, user="ben", limits=limits)
    assert store.budget("demo", limits).epsilon_total == 1.5
    audit = _rows(settings, "SELECT action, actor, epsilon FROM audit_log WHERE action='top_up'")
    assert audit == [("top_up", "st", 0.5), ("top_up", "st", 1.0)]


@pytest.mark.parametrize(
    "kwargs",
    [
        {"epsilon": -1.0},
        {"epsilon": 0.0},
        {"epsilon": 1.0, "delta": -1e-6},
        {"epsilon": float("nan")},
        {"epsilon": 1.0, "reason": " "},
    ],
)
def test_bad_top_up_refused_and_store_unchanged(store, settings, kwargs):
    _reserve(store, 0.2)
    before = _dump(settings)
    grant = {"project": "demo", "delta": 0.0, "reason": "more", **kwargs}
    with pytest.raises(UserError):
        store.ledger.top_up(TopUp(**grant), steward="st")
    assert _dump(settings) == before
    assert _rows(settings, "SELECT COUNT(*) FROM budget_topups") == [(0,)]


@pytest.mark.parametrize("eps", [0.0, -0.1, float("inf")])
def test_reserve_rejects_nonsense_epsilon(store, eps):
    with pytest.raises(UserError):
        _reserve(store, eps)


def test_epsilon_is_exact_in_micro_units(store):
    limits = BudgetLimits(epsilon=1.0)
    for _ in range(10):
        _reserve(store, 0.1, limits=limits)
    status = store.budget("demo", limits)
    assert status.epsilon_spent == 1.0 and status.epsilon_remaining == 0.0
    with pytest.raises(BudgetExhausted):
        _reserve(store, 1e-6, limits=limits)


def test_limits_from_policy_file():
    projects = load_project_policies(Settings(home="/tmp").policies_dir / "projects")
    limits = BudgetLimits.from_policy(projects["demo"])
    assert limits == BudgetLimits(
        projects["demo"].epsilon, projects["demo"].delta, projects["demo"].member_epsilon
    )


def test_crash_between_reserve_and_commit_stays_charged(settings):
    """A process killed after reserve: the charge counts, it is audited, nothing released."""
    script = textwrap.dedent(f"""
        import os, signal
        from pathlib import Path
        from enclave.settings import Settings
        from enclave.store import BudgetAsk, BudgetLimits, open_store
        store = open_store(Settings(home=Path({str(settings.home)!r})))
        store.reserve(BudgetAsk(project="demo", user="ana", epsilon=0.25, delta=0.0,
                                request_id="crash", sql_hash="h", limits=BudgetLimits(epsilon=1.0)))
        os.kill(os.getpid(), signal.SIGKILL)
    """)
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, timeout=60)
    assert proc.returncode == -9
    with open_store(settings) as store:
        limits = BudgetLimits(epsilon=1.0)
        assert store.budget("demo", limits).epsilon_spent == 0.25
        assert store.budget("demo", limits).epsilon_reserved == 0.25
        records = list(store.audit_log.export())
        assert [(r["action"], r["request_id"]) for r in records] == [("reserve", "crash")]
        assert store.audit_log.verify().ok
        assert _rows(settings, "SELECT COUNT(*) FROM release_cache") == [(0,)]
