"""The ledger in ρ for projects accounted in zCDP: exact sums, the ρ cap from the ε promise,
refusals in both units, members, top-ups, the schema migration, and pure budgets unchanged."""

from __future__ import annotations

import math
import sqlite3

import pytest

from enclave.errors import BudgetExhausted, InternalError
from enclave.policy import Accounting, epsilon_of_rho, rho_of_epsilon
from enclave.store import (
    BudgetAsk,
    BudgetLimits,
    TopUp,
    from_rho_units,
    open_store,
    to_rho_units,
)
from enclave.store._schema import BASE_VERSION, DDL, SCHEMA_VERSION
from tests._store_rows import metadata_rows as _units

ZCDP = Accounting("zcdp", 1e-6)
LIMITS = BudgetLimits(epsilon=2.0, delta=ZCDP.keys_delta, accounting=ZCDP)


def _ask(rho: float, *, eps: float = 0.3, limits=LIMITS, user="ana", rid="r", delta=0.0):
    return BudgetAsk("z", user, eps, delta, rid, "h" * 64, limits, rho=rho)


def test_rho_adds_up_exactly_in_integer_units(store, settings):
    charges = [0.001, 0.0025, 1e-9, 0.0123456789, 3e-13]
    for i, rho in enumerate(charges):
        store.commit(store.reserve(_ask(rho, rid=f"r{i}")), cache_key=f"k{i}", release={})
    status = store.budget("z", LIMITS)
    expected = sum(to_rho_units(r) for r in charges)
    assert _units(settings, "SELECT SUM(rho_units) FROM budget_ledger") == [(expected,)]
    assert status.rho_spent == from_rho_units(expected)
    assert status.rho_total == from_rho_units(to_rho_units(ZCDP.rho(2.0), charge=False))
    assert status.rho_remaining == pytest.approx(status.rho_total - status.rho_spent, abs=1e-15)
    assert status.accounting == "zcdp" and status.conversion_delta == 5e-7
    # every ε shown is the conversion of the ρ: spent is ε(ρ spent), remaining the rest
    assert status.epsilon_spent == pytest.approx(ZCDP.epsilon(status.rho_spent))
    assert status.epsilon_remaining == pytest.approx(2.0 - status.epsilon_spent)
    assert status.epsilon_spent < sum(ZCDP.epsilon(r) for r in charges)  # not basic composition


def test_epsilon_column_holds_each_charges_rise_of_the_implied_epsilon(store, settings):
    for i in range(4):
        store.commit(store.reserve(_ask(0.01, rid=f"r{i}")), cache_key=f"k{i}", release={})
    rises = [r for (r,) in _units(settings, "SELECT epsilon_micro FROM budget_ledger")]
    assert rises == sorted(rises, reverse=True)  # ε(ρ) is concave: each rise is smaller
    assert sum(rises) / 1e6 == pytest.approx(ZCDP.epsilon(0.04), abs=5e-6)


@pytest.mark.parametrize("delta", [1e-8, 1e-6, 1e-3])
def test_conversion_is_monotone_and_inverts(delta):
    rhos = [1e-12, 1e-9, 1e-6, 1e-4, 0.0025, 0.01, 0.25, 1.0, 10.0, 400.0]
    eps = [epsilon_of_rho(r, delta) for r in rhos]
    assert eps == sorted(eps)  # never decreasing; 0 while δ alone covers ρ
    positive = [e for e in eps if e > 0]
    assert len(set(positive)) == len(positive) >= 6  # strictly increasing once above 0
    for e in (1e-4, 0.1, 1.0, 3.5, 10.0, 315.0):
        rho = rho_of_epsilon(e, delta)
        assert epsilon_of_rho(rho, delta) <= e < epsilon_of_rho(rho * (1 + 1e-9), delta)
    assert [rho_of_epsilon(e, delta) for e in (0.5, 1.0, 2.0)] == sorted(
        rho_of_epsilon(e, delta) for e in (0.5, 1.0, 2.0)
    )
    # OpenDP's conversion is tighter than the classic ρ + 2√(ρ ln 1/δ), never looser
    assert all(
        e <= r + 2 * math.sqrt(r * math.log(1 / delta)) for r, e in zip(rhos, eps, strict=True)
    )


def test_overspend_refused_in_both_units(store):
    cap = LIMITS.accounting.rho(2.0)
    store.commit(store.reserve(_ask(cap * 0.9, rid="a")), cache_key="a", release={})
    with pytest.raises(BudgetExhausted) as err:
        store.reserve(_ask(cap * 0.2, rid="b"))
    msg = str(err.value)
    assert msg.startswith("Requested ρ=") and "; remaining ρ=" in msg
    assert "(ε +" in msg and "at δ=5e-07" in msg and "for project 'z'" in msg
    assert "difference ρ=" in msg and "ask the steward for a top-up" in msg
    status = store.budget("z", LIMITS)
    assert status.rho_spent == pytest.approx(cap * 0.9, rel=1e-12)  # nothing was held
    store.commit(store.reserve(_ask(cap * 0.0999, rid="c")), cache_key="c", release={})


def test_member_cap_is_kept_in_rho(store):
    limits = BudgetLimits(epsilon=2.0, delta=0.0, member_epsilon=0.5, accounting=ZCDP)
    member_rho = ZCDP.rho(0.5)
    store.commit(
        store.reserve(_ask(member_rho * 0.8, limits=limits, rid="a")), cache_key="a", release={}
    )
    with pytest.raises(BudgetExhausted, match="for member 'ana' of project 'z'"):
        store.reserve(_ask(member_rho * 0.3, limits=limits, rid="b"))
    other = store.reserve(_ask(member_rho * 0.3, limits=limits, rid="c", user="bo"))
    store.commit(other, cache_key="c", release={})
    mine = store.budget("z", limits, user="ana")
    assert mine.member_rho_total == pytest.approx(member_rho, rel=1e-12)
    assert mine.member_rho_spent == pytest.approx(member_rho * 0.8, rel=1e-12)
    assert mine.member_epsilon_spent == pytest.approx(ZCDP.epsilon(member_rho * 0.8))
    assert mine.member_epsilon_remaining == pytest.approx(0.5 - mine.member_epsilon_spent)


def test_delta_of_private_keys_is_checked_too(store):
    store.commit(store.reserve(_ask(1e-4, delta=4e-7, rid="a")), cache_key="a", release={})
    with pytest.raises(BudgetExhausted, match="δ"):
        store.reserve(_ask(1e-4, delta=2e-7, rid="b"))


def test_a_zcdp_charge_needs_its_rho(store):
    with pytest.raises(InternalError):
        store.reserve(_ask(0.0))


def test_cancel_refunds_rho(store):
    res = store.reserve(_ask(0.01))
    assert store.budget("z", LIMITS).rho_reserved == pytest.approx(0.01)
    store.ledger.cancel(res, error_type="QueryRejected")
    status = store.budget("z", LIMITS)
    assert (status.rho_spent, status.rho_reserved, status.epsilon_spent) == (0.0, 0.0, 0.0)


def test_top_up_in_epsilon_raises_the_rho_cap(store):
    before = store.budget("z", LIMITS).rho_total
    store.ledger.top_up(TopUp("z", 1.0, 0.0, "extension"), steward="sam")
    after = store.budget("z", LIMITS)
    assert after.epsilon_total == 3.0
    assert after.rho_total == pytest.approx(ZCDP.rho(3.0), rel=1e-12) and after.rho_total > before


def test_pure_budget_has_no_rho_fields_and_no_rho_units(store, settings):
    pure = BudgetLimits(epsilon=1.0)
    ask = BudgetAsk("p", "ana", 0.25, 0.0, "r", "h" * 64, pure)
    store.commit(store.reserve(ask), cache_key="k", release={})
    shown = store.budget("p", pure).to_json()
    assert not any(k.startswith("rho") or k == "accounting" for k in shown)
    assert shown["epsilon_spent"] == 0.25
    assert _units(settings, "SELECT epsilon_micro, rho_units FROM budget_ledger") == [(250000, 0)]


def test_a_version_1_store_is_migrated_once(settings):
    settings.ensure_home()
    con = sqlite3.connect(settings.metadata_path)
    for statement in DDL:
        con.execute(statement)
    con.execute(
        "INSERT INTO store_meta (key, value) VALUES ('schema_version', ?)", (str(BASE_VERSION),)
    )
    con.execute(
        "INSERT INTO budget_ledger (id, project, member, request_id, sql_hash, epsilon_micro,"
        " delta_units, status, created, updated)"
        " VALUES ('old', 'demo', 'ana', 'r', 'h', 300000, 0, 'committed', 't', 't')"
    )
    con.commit()
    con.close()
    for _ in range(2):  # opening again changes nothing
        with open_store(settings) as store:
            assert store.budget("demo", BudgetLimits(1.0)).epsilon_spent == 0.3
    rows = _units(settings, "SELECT id, epsilon_micro, rho_units FROM budget_ledger")
    assert rows == [("old", 300000, 0)]
    version = _units(settings, "SELECT value FROM store_meta WHERE key = 'schema_version'")
    assert version == [(str(SCHEMA_VERSION),)] and SCHEMA_VERSION == 2


def test_a_new_store_is_at_the_latest_version(store, settings):
    version = _units(settings, "SELECT value FROM store_meta WHERE key = 'schema_version'")
    assert version == [(str(SCHEMA_VERSION),)]
    columns = [r[1] for r in _units(settings, "PRAGMA table_info(budget_ledger)")]
    assert "rho_units" in columns
