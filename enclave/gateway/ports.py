"""What the gateway needs from outside: a metadata store and an engine (protocols).

The gateway depends only on these; the service layer wires concrete ones in
(``enclave.service.open_context``): DuckDB or Spark behind ``Engine``, the SQLite or
PostgreSQL store (with the service's review queue) behind ``GatewayStore``. The values
that cross the port are the store's frozen types.
"""

from __future__ import annotations

from typing import Any, Protocol

from enclave.engines.base import Engine
from enclave.store import AuditRecord, BudgetAsk, BudgetLimits, BudgetStatus, Reservation

__all__ = ["Engine", "GatewayStore"]


class GatewayStore(Protocol):
    """Budget ledger, release cache, review approvals and the audit chain."""

    def cached_release(self, project: str, cache_key: str) -> dict[str, Any] | None:
        """The stored release for this cache key, or None."""
        ...

    def approved_for_review(self, project: str, cache_key: str) -> bool:
        """Whether a steward approved this exact query (above the review threshold)."""
        ...

    def reserve(self, ask: BudgetAsk) -> Reservation:
        """Reserve ε and δ in one transaction, or raise BudgetExhausted."""
        ...

    def commit(self, reservation: Reservation, *, cache_key: str, release: dict[str, Any]) -> None:
        """Charge, cache the release and audit it, in one transaction."""
        ...

    def budget(self, project: str, limits: BudgetLimits, user: str | None = None) -> BudgetStatus:
        """Total, spent and remaining budget."""
        ...

    def audit(self, record: AuditRecord) -> int:
        """Append one record to the hash-chained audit log."""
        ...
