"""The privacy-budget ledger and the release cache, as functions of one open transaction.

Every budget transaction first locks the project's row in ``budget_projects`` (SQLite:
the whole database is already locked by ``BEGIN IMMEDIATE``; PostgreSQL: ``SELECT … FOR
UPDATE``), then reads what is spent and writes. Two reservations for one project can
therefore never both see the same remaining budget, in any thread or process.

Spent = reserved + committed charges (cancelled ones are refunded). A reservation that is
never settled (the process died between reserve and commit) stays counted: nothing was
released for it, but the store cannot know whether noise was drawn, so it stays charged.

A project accounted in ρ-zCDP (``BudgetLimits.accounting``) is checked and shown in ρ the
same way, by ``_rho`` in the same transaction; a pure project never reads ρ.

>>> _fmt_eps(500000), _fmt_eps(5), _fmt_delta(10**9)
('0.50', '0.000005', '1e-06')
"""

from __future__ import annotations

import json
import uuid
from dataclasses import replace
from pathlib import Path
from typing import Any

from enclave.errors import BudgetExhausted, InternalError, UserError
from enclave.store import _audit, _rho
from enclave.store._db import Tx
from enclave.store._types import (
    AuditRecord,
    BudgetAsk,
    BudgetLimits,
    BudgetStatus,
    Reservation,
    TopUp,
    from_delta_units,
    from_micro_eps,
    from_rho_units,
    to_delta_units,
    to_micro_eps,
    to_rho_units,
)

__all__ = ["budget", "cached_release", "cancel", "commit", "reserve", "top_up"]

_NEXT = "Lower {what} or ask the steward for a top-up."


def _fmt_eps(units: int) -> str:
    text = f"{from_micro_eps(units):.6f}".rstrip("0")
    whole, _, frac = text.partition(".")
    return f"{whole}.{frac.ljust(2, '0')}"


def _fmt_delta(units: int) -> str:
    return f"{from_delta_units(units):.3g}"


def _lock_project(tx: Tx, project: str) -> None:
    tx.execute("project_row_ensure", (project,))
    tx.one("project_row_lock", (project,))


def _totals(tx: Tx, project: str, limits: BudgetLimits, user: str | None) -> dict[str, Any]:
    """Integer totals and spending for a project (and a member, if named)."""
    spent_eps, spent_delta, reserved = tx.one("spent_project", (project,)) or (0, 0, 0)
    top_eps, top_delta = tx.one("topup_project", (project,)) or (0, 0)
    out: dict[str, Any] = {
        "eps_total": to_micro_eps(limits.epsilon, charge=False) + int(top_eps),
        "eps_spent": int(spent_eps),
        "eps_reserved": int(reserved),
        "delta_total": to_delta_units(limits.delta, charge=False) + int(top_delta),
        "delta_spent": int(spent_delta),
        "member_total": None,
        "member_spent": None,
    }
    if user is not None:
        out["member_spent"] = int((tx.one("spent_member", (project, user)) or (0,))[0])
        if limits.member_epsilon is not None:
            top_member = int((tx.one("topup_member", (project, user)) or (0,))[0])
            out["member_total"] = to_micro_eps(limits.member_epsilon, charge=False) + top_member
    if limits.accounting.zcdp:
        _rho.totals(tx, project, limits, user, out)
    return out


def _refuse(requested: str, remaining: str, diff: str, whom: str, what: str, sym: str) -> None:
    raise BudgetExhausted(
        f"Requested {sym}={requested}; remaining {sym}={remaining} for {whom} "
        f"(difference {diff}). " + _NEXT.format(what=what)
    )


def _check(
    t: dict[str, Any], eps: int, delta: int, project: str, user: str, *, in_rho: bool = False
) -> None:
    """Refuse past the ε (or, ``in_rho``, ρ: checked before by ``_rho.check``) and δ left."""
    left = max(0, t["eps_total"] - t["eps_spent"])
    if eps > left and not in_rho:
        whom = f"project {project!r}"
        _refuse(_fmt_eps(eps), _fmt_eps(left), _fmt_eps(eps - left), whom, "epsilon", "ε")
    left = max(0, t["delta_total"] - t["delta_spent"])
    if delta > left:
        whom = f"project {project!r}"
        _refuse(_fmt_delta(delta), _fmt_delta(left), _fmt_delta(delta - left), whom, "delta", "δ")
    if t["member_total"] is not None and not in_rho:
        left = max(0, t["member_total"] - t["member_spent"])
        if eps > left:
            whom = f"member {user!r} of project {project!r}"
            _refuse(_fmt_eps(eps), _fmt_eps(left), _fmt_eps(eps - left), whom, "epsilon", "ε")


def reserve(tx: Tx, ask: BudgetAsk, now: str, anchor: Path | None) -> Reservation:
    eps_u, delta_u = to_micro_eps(ask.epsilon), to_delta_units(ask.delta)
    if eps_u == 0:
        raise UserError("epsilon must be greater than 0 to reserve budget; give a positive ε.")
    project, user = ask.project, ask.user
    _lock_project(tx, project)
    totals, acc = _totals(tx, project, ask.limits, user), ask.limits.accounting
    if acc.zcdp:
        return _reserve_rho(tx, ask, totals, (now, anchor), delta_u)
    _check(totals, eps_u, delta_u, project, user)
    held = replace(ask, epsilon=from_micro_eps(eps_u), delta=from_delta_units(delta_u))
    res = Reservation(uuid.uuid4().hex, held, now)
    row = (res.id, project, user, ask.request_id, ask.sql_hash, eps_u, delta_u, now, now)
    tx.execute("ledger_insert", row)
    _audit.append(tx, _record(res, now, "reserve", "reserved"), anchor)
    return res


def _reserve_rho(
    tx: Tx, ask: BudgetAsk, totals: dict[str, Any], when: tuple[str, Path | None], delta_u: int
) -> Reservation:
    """``reserve`` for a zcdp project: hold ρ (and δ); ε held is the rise it makes."""
    (now, anchor), acc = when, ask.limits.accounting
    rho_u = to_rho_units(ask.rho)
    if rho_u == 0:
        raise InternalError("a zcdp charge needs its ρ")
    _rho.check(totals, rho_u, ask.project, ask.user, acc)
    _check(totals, 0, delta_u, ask.project, ask.user, in_rho=True)
    eps_u = _rho.charged_epsilon(totals, rho_u, acc)
    held = replace(
        ask,
        epsilon=from_micro_eps(eps_u),
        delta=from_delta_units(delta_u),
        rho=from_rho_units(rho_u),
    )
    res = Reservation(uuid.uuid4().hex, held, now)
    row = (res.id, ask.project, ask.user, ask.request_id, ask.sql_hash, eps_u, delta_u, rho_u)
    tx.execute("ledger_insert_rho", (*row, now, now))
    _audit.append(tx, _record(res, now, "reserve", "reserved"), anchor)
    return res


def _record(
    res: Reservation, now: str, action: str, verdict: str, error_type: str | None = None
) -> AuditRecord:
    ask = res.ask
    return AuditRecord(
        time=now,
        request_id=ask.request_id,
        actor=ask.user,
        project=ask.project,
        action=action,
        verdict=verdict,
        sql_hash=ask.sql_hash,
        epsilon=ask.epsilon,
        delta=ask.delta,
        error_type=error_type,
        detail=f"reservation {res.id}" + (f"; rho {ask.rho:.6g}" if ask.rho else ""),
    )


def _settle(tx: Tx, res: Reservation, status: str, now: str) -> None:
    if tx.execute("ledger_settle", (status, now, res.id)) != 1:
        row = tx.one("ledger_status", (res.id,))
        state = "unknown" if row is None else row[0]
        raise InternalError(f"reservation is {state}, not reserved; settle each one once")


def commit(
    tx: Tx, res: Reservation, cache_key: str, release: dict[str, Any], now: str, anchor: Path | None
) -> None:
    body = json.dumps(release, sort_keys=True, default=str)
    _settle(tx, res, "committed", now)
    tx.execute("cache_insert", (res.ask.project, cache_key, res.id, body, now))
    _audit.append(tx, _record(res, now, "release", "released"), anchor)


def cancel(tx: Tx, res: Reservation, error_type: str, now: str, anchor: Path | None) -> None:
    _settle(tx, res, "cancelled", now)
    _audit.append(tx, _record(res, now, "cancel", "refunded", error_type), anchor)


def cached_release(tx: Tx, project: str, cache_key: str) -> dict[str, Any] | None:
    row = tx.one("cache_get", (project, cache_key))
    return None if row is None else dict(json.loads(row[0]))


def budget(tx: Tx, project: str, limits: BudgetLimits, user: str | None) -> BudgetStatus:
    t = _totals(tx, project, limits, user)
    eps_left = max(0, t["eps_total"] - t["eps_spent"])
    member: dict[str, Any] = {}
    if user is not None:
        cap = t["member_total"]
        m_left = eps_left if cap is None else min(eps_left, max(0, cap - t["member_spent"]))
        member = {
            "member": user,
            "member_epsilon_total": None if cap is None else from_micro_eps(cap),
            "member_epsilon_spent": from_micro_eps(t["member_spent"]),
            "member_epsilon_remaining": from_micro_eps(m_left),
        }
    status = BudgetStatus(
        project=project,
        epsilon_total=from_micro_eps(t["eps_total"]),
        epsilon_spent=from_micro_eps(t["eps_spent"]),
        epsilon_remaining=from_micro_eps(eps_left),
        delta_total=from_delta_units(t["delta_total"]),
        delta_spent=from_delta_units(t["delta_spent"]),
        delta_remaining=from_delta_units(max(0, t["delta_total"] - t["delta_spent"])),
        epsilon_reserved=from_micro_eps(t["eps_reserved"]),
        **member,
    )
    if limits.accounting.zcdp:
        return replace(status, **_rho.status_fields(t, limits.accounting, user))
    return status


def top_up(tx: Tx, grant: TopUp, steward: str, now: str, anchor: Path | None) -> None:
    eps_u, delta_u = to_micro_eps(grant.epsilon), to_delta_units(grant.delta)
    if eps_u == 0 and delta_u == 0:
        raise UserError("A top-up needs a positive epsilon or delta; nothing was changed.")
    reason = grant.reason.strip()
    if not reason:
        raise UserError("A top-up needs a reason (it is audited); nothing was changed.")
    project, member = grant.project, grant.member
    _lock_project(tx, project)
    row = (uuid.uuid4().hex, project, member, eps_u, delta_u, grant.reason, steward, now)
    tx.execute("topup_insert", row)
    record = AuditRecord.now(
        action="top_up", verdict="applied", actor=steward, time=now, project=project,
        epsilon=from_micro_eps(eps_u), delta=from_delta_units(delta_u),
        detail=(f"member {member}: " if member else "") + reason,
    )  # fmt: skip
    _audit.append(tx, record, anchor)
