"""The ledger repository: budget reservations, charges, top-ups and the release cache.

The rules (lock the project's row first, spent = reserved + committed) are in
``_ledger``, as functions of one open transaction; this class gives each its own.
"""

from __future__ import annotations

from typing import Any

from enclave.store import _ledger
from enclave.store._base import Repository
from enclave.store._db import Tx
from enclave.store._types import BudgetAsk, BudgetLimits, BudgetStatus, Reservation, TopUp

__all__ = ["Ledger", "LossRows"]

#: Per project: status, stored approval rules (JSON), project top-ups and spending
#: (ε in micro-units, δ in units), for the dataset-wide privacy ceiling.
LossRows = tuple[
    dict[str, str], dict[str, str], dict[str, tuple[int, int]], dict[str, tuple[int, int]]
]


class Ledger(Repository):
    """ε and δ held, charged and refunded per project and member; cached releases."""

    def reserve(self, ask: BudgetAsk) -> Reservation:
        """Hold ε and δ for one request, or raise ``BudgetExhausted``; audited."""
        b = self._b
        return b.write(lambda tx: _ledger.reserve(tx, ask, b.now(), b.anchor))

    def commit(self, reservation: Reservation, *, cache_key: str, release: dict[str, Any]) -> None:
        """Make the charge final and store the release; after this the answer may leave."""
        b = self._b
        b.write(lambda tx: _ledger.commit(tx, reservation, cache_key, release, b.now(), b.anchor))

    def cancel(self, reservation: Reservation, *, error_type: str) -> None:
        """Refund a reservation for which no noisy value was ever computed; audited."""
        b = self._b
        b.write(lambda tx: _ledger.cancel(tx, reservation, error_type, b.now(), b.anchor))

    def cached_release(self, project: str, cache_key: str) -> dict[str, Any] | None:
        return self._b.read(lambda tx: _ledger.cached_release(tx, project, cache_key))

    def budget(self, project: str, limits: BudgetLimits, user: str | None = None) -> BudgetStatus:
        return self._b.read(lambda tx: _ledger.budget(tx, project, limits, user))

    def top_up(self, grant: TopUp, *, steward: str) -> None:
        """Add ε/δ to a project's total and each member's cap (or one member's cap)."""
        b = self._b
        b.write(lambda tx: _ledger.top_up(tx, grant, steward, b.now(), b.anchor))

    def loss_rows(self) -> LossRows:
        """Statuses, approval rules, project top-ups and spending, in one read transaction."""

        def run(tx: Tx) -> LossRows:
            def sums(name: str) -> dict[str, tuple[int, int]]:
                return {str(p): (int(e), int(d)) for p, e, d in tx.all(name)}

            statuses = {str(r[0]): str(r[1]) for r in tx.all("project_all")}
            rules = {str(p): str(body) for p, body in tx.all("policy_all")}
            return statuses, rules, sums("ceiling_topups"), sums("ceiling_spent")

        return self._b.read(run)
