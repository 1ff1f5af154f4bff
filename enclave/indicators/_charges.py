"""The ledger side of an indicator: one charge of the yearly ε per indicator-year.

The first release of a year charges the indicator's ``epsilon_per_year`` to its project
through the budget ledger (``reserve`` then ``commit``: refused with ``BudgetExhausted``
before anything runs if the project cannot pay, audited either way), and keeps what was
charged in the release cache under ``indicator-year/<id>/<year>/<n>``. Every later week
of that year is covered by that charge and costs nothing more. A definition changed
during a year (its condition, ``k`` or ε) is a new mechanism: it gets the next ``n`` and
a charge of its own, so the ledger always holds the exact sum.

Two schedulers charging the same new year at the same moment may both pay (the second
entry is not kept in the cache, the ledger counts both): an over-charge, never an
under-charge.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from typing import Any

from enclave.errors import PolicyViolation
from enclave.indicators._definitions import Indicator, definition_hash

__all__ = ["Charge", "charges_of", "ensure_charged", "indicator_losses"]

_MAX_CHARGES = 100


@dataclass(frozen=True)
class Charge:
    """One indicator-year's charge to the ledger."""

    indicator: str
    year: int
    n: int
    definition: str
    epsilon: float
    periods_per_year: int

    @property
    def cache_key(self) -> str:
        return _key(self.indicator, self.year, self.n)


def _key(indicator: str, year: int, n: int) -> str:
    return f"indicator-year/{indicator}/{year}/{n}"


def charges_of(store: Any, project: str, indicator: str, year: int) -> list[Charge]:
    """Every charge of one indicator-year, in order."""
    out: list[Charge] = []
    for n in range(1, _MAX_CHARGES + 1):
        body = store.cached_release(project, _key(indicator, year, n))
        if body is None:
            break
        out.append(Charge(**{f: body[f] for f in Charge.__dataclass_fields__}))
    return out


def ensure_charged(store: Any, ind: Indicator, year: int, policy: Any) -> tuple[Charge, float]:
    """The charge that covers ``year`` for the indicator as defined now, and the ε this
    call charged (0 when the year was already paid for)."""
    known = charges_of(store, ind.project, ind.id, year)
    mine = definition_hash(ind)
    for charge in known:
        if charge.definition == mine:
            return charge, 0.0
    if ind.epsilon_per_year > policy.max_epsilon_per_query:
        raise PolicyViolation(
            f"Indicator {ind.id!r} asks ε = {ind.epsilon_per_year:g} per year but project "
            f"{ind.project!r} allows at most {policy.max_epsilon_per_query:g} per release; "
            "lower epsilon_per_year or raise the project's max_epsilon_per_query."
        )
    from enclave.store import BudgetAsk, BudgetLimits

    charge = Charge(ind.id, year, len(known) + 1, mine, ind.epsilon_per_year, ind.periods_per_year)
    res = store.reserve(
        BudgetAsk(
            project=ind.project,
            user=ind.user,
            epsilon=ind.epsilon_per_year,
            delta=0.0,
            request_id=uuid.uuid4().hex,
            sql_hash=f"indicator-year:{ind.id}:{year}:{mine}",
            limits=BudgetLimits.from_policy(policy),
        )
    )
    store.commit(res, cache_key=charge.cache_key, release=asdict(charge))
    return charge, float(res.ask.epsilon)


def indicator_losses(
    store: Any, indicators: Iterable[Indicator], years: Iterable[int]
) -> list[dict[str, Any]]:
    """Per indicator: its terms, the ε charged for each year and the lifetime sum so far
    (the worst case for one person who qualifies in every indicator every year)."""
    out = []
    spans = sorted(set(years))
    for ind in indicators:
        per_year = {
            str(y): sum(c.epsilon for c in charges_of(store, ind.project, ind.id, y)) for y in spans
        }
        per_year = {y: e for y, e in per_year.items() if e > 0}
        out.append(
            {
                "indicator": ind.id,
                "project": ind.project,
                "periods_per_year": ind.periods_per_year,
                "epsilon_per_year": ind.epsilon_per_year,
                "epsilon_by_year": per_year,
                "epsilon_lifetime": round(sum(per_year.values()), 9),
            }
        )
    return out
