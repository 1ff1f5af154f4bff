"""The ledger in ρ, for projects accounted in ρ-zCDP (``BudgetLimits.accounting``).

The promise stays the project's (ε, δ): its ε total (policy plus top-ups, as for every
project) is turned into the ρ it may spend, ``Accounting.rho(ε_total)`` — the largest ρ
whose OpenDP conversion at the conversion δ is within it — rounded down to units of
1e-15. Each charge holds its ρ (``budget_ledger.rho_units``, rounded up), so spent ρ is an
exact integer sum, and a reservation is refused when it would pass the ρ left to the
project (or to the member: their ε cap turned into ρ the same way). Every ε a person sees
is computed from ρ: spent ε is the conversion of the spent ρ, remaining ε the total less
it; a refusal gives both units.

The ledger's ``epsilon_micro`` of a zcdp charge is the rise of the project's implied ε it
made when it was reserved (so the column still adds up to about the implied ε for the
dataset's ceiling view; a refund leaves the later rises as they were). ρ is what counts.

>>> from enclave.policy import Accounting
>>> t = {"eps_total": 10_000_000, "rho_total": 1_500_000_000_000_000, "rho_spent": 0,
...      "rho_reserved": 0, "member_rho_total": None, "member_rho_spent": None}
>>> charged_epsilon(t, to_rho_units(0.25), Accounting("zcdp", 1e-6))
3641982
"""

from __future__ import annotations

from typing import Any

from enclave.errors import BudgetExhausted
from enclave.policy import Accounting
from enclave.store._db import Tx
from enclave.store._types import (
    COMPOSITION_ZCDP,
    BudgetLimits,
    from_micro_eps,
    from_rho_units,
    to_micro_eps,
    to_rho_units,
)

__all__ = ["charged_epsilon", "check", "status_fields", "totals"]


def _rho_cap(acc: Accounting, eps_units: int) -> int:
    return to_rho_units(acc.rho(from_micro_eps(eps_units)), charge=False)


def totals(tx: Tx, project: str, limits: BudgetLimits, user: str | None, t: dict[str, Any]) -> None:
    """Add the ρ totals and spending to ``t`` (the ledger's ε totals of the project)."""
    acc = limits.accounting
    spent, reserved = tx.one("spent_project_rho", (project,)) or (0, 0)
    t.update(
        rho_total=_rho_cap(acc, t["eps_total"]),
        rho_spent=int(spent),
        rho_reserved=int(reserved),
        member_rho_total=None,
        member_rho_spent=None,
    )
    if user is not None:
        t["member_rho_spent"] = int((tx.one("spent_member_rho", (project, user)) or (0,))[0])
        if t["member_total"] is not None:
            t["member_rho_total"] = _rho_cap(acc, t["member_total"])


def _eps(acc: Accounting, units: int) -> float:
    return acc.epsilon(from_rho_units(units))


def charged_epsilon(t: dict[str, Any], rho: int, acc: Accounting) -> int:
    """The ε (micro-units, rounded up) by which a charge of ``rho`` raises the project's."""
    rise = _eps(acc, t["rho_spent"] + rho) - _eps(acc, t["rho_spent"])
    return to_micro_eps(max(0.0, rise))


def _refuse(rho: int, left: int, spent: int, total_eps: float, whom: str, acc: Accounting) -> None:
    at = f"at δ={acc.conversion_delta:.3g}"
    rise = _eps(acc, spent + rho) - _eps(acc, spent)
    eps_left = max(0.0, total_eps - _eps(acc, spent))
    raise BudgetExhausted(
        f"Requested ρ={from_rho_units(rho):.6g} (ε +{rise:.4g} {at}); remaining "
        f"ρ={from_rho_units(left):.6g} (ε {eps_left:.4g} {at}) for {whom} (difference "
        f"ρ={from_rho_units(rho - left):.6g}). Lower epsilon or ask the steward for a top-up."
    )


def check(t: dict[str, Any], rho: int, project: str, user: str, acc: Accounting) -> None:
    """Refuse (``BudgetExhausted``) a charge of ``rho`` past the project's or member's ρ."""
    left = max(0, t["rho_total"] - t["rho_spent"])
    if rho > left:
        total = from_micro_eps(t["eps_total"])
        _refuse(rho, left, t["rho_spent"], total, f"project {project!r}", acc)
    if t["member_rho_total"] is not None:
        left = max(0, t["member_rho_total"] - t["member_rho_spent"])
        if rho > left:
            whom = f"member {user!r} of project {project!r}"
            total = from_micro_eps(t["member_total"])
            _refuse(rho, left, t["member_rho_spent"], total, whom, acc)


def status_fields(t: dict[str, Any], acc: Accounting, user: str | None) -> dict[str, Any]:
    """A zcdp project's BudgetStatus fields: ρ, and ε as the ρ implies it."""
    spent, reserved = t["rho_spent"], t["rho_reserved"]
    rho_left = max(0, t["rho_total"] - spent)
    eps_total, eps_spent = from_micro_eps(t["eps_total"]), _eps(acc, spent)
    out: dict[str, Any] = {
        "epsilon_spent": eps_spent,
        "epsilon_remaining": max(0.0, eps_total - eps_spent),
        "epsilon_reserved": eps_spent - _eps(acc, spent - reserved),
        "composition": COMPOSITION_ZCDP,
        "accounting": "zcdp",
        "conversion_delta": acc.conversion_delta,
        "rho_total": from_rho_units(t["rho_total"]),
        "rho_spent": from_rho_units(spent),
        "rho_remaining": from_rho_units(rho_left),
        "rho_reserved": from_rho_units(reserved),
    }
    if user is not None:
        cap, m_spent = t["member_rho_total"], t["member_rho_spent"]
        m_left = rho_left if cap is None else min(rho_left, max(0, cap - m_spent))
        m_eps = _eps(acc, m_spent)
        m_total = eps_total if t["member_total"] is None else from_micro_eps(t["member_total"])
        out.update(
            member_epsilon_spent=m_eps,
            member_epsilon_remaining=min(out["epsilon_remaining"], max(0.0, m_total - m_eps)),
            member_rho_total=None if cap is None else from_rho_units(cap),
            member_rho_spent=from_rho_units(m_spent),
            member_rho_remaining=from_rho_units(m_left),
        )
    return out
