"""Tables the service layer adds to the metadata store, run through the store's own
transaction helper.

``ServiceTables`` opens transactions with the store's ``Database.transaction`` (so the
same retry-on-conflict and per-process connections apply) and gives the function two
statement runners on the same connection: the store's (``tx``, which also appends audit
records) and this module's (``mine``). A change and its audit record therefore commit
together or not at all.

>>> all(s.startswith("CREATE") for s in SERVICE_DDL)
True
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, TypeVar

from enclave.store._db import Tx, compile_sql

if TYPE_CHECKING:
    from enclave.store._store import Store

__all__ = ["SERVICE_DDL", "SERVICE_SQL", "ServiceTables"]

T = TypeVar("T")

SERVICE_DDL: tuple[str, ...] = (
    # The rules a steward set when approving a project (the policy files are the base).
    """CREATE TABLE IF NOT EXISTS service_project_policies (
        project TEXT PRIMARY KEY,
        body TEXT NOT NULL,
        steward TEXT NOT NULL,
        updated TEXT NOT NULL)""",
    # Queries above a project's review threshold, waiting for (or given) a steward's word.
    """CREATE TABLE IF NOT EXISTS service_reviews (
        id TEXT PRIMARY KEY,
        project TEXT NOT NULL,
        requester TEXT NOT NULL,
        cache_key TEXT NOT NULL,
        sql TEXT NOT NULL,
        epsilon DOUBLE PRECISION,
        half_width DOUBLE PRECISION,
        plan_epsilon DOUBLE PRECISION NOT NULL,
        status TEXT NOT NULL CHECK (status IN ('pending', 'approved', 'rejected')),
        steward TEXT,
        reason TEXT,
        created TEXT NOT NULL,
        updated TEXT NOT NULL)""",
    "CREATE INDEX IF NOT EXISTS service_reviews_key ON service_reviews (project, cache_key)",
)

SERVICE_SQL: dict[str, str] = {
    "policy_put": (
        "INSERT INTO service_project_policies (project, body, steward, updated)"
        " VALUES (?, ?, ?, ?) ON CONFLICT (project) DO UPDATE SET body = excluded.body,"
        " steward = excluded.steward, updated = excluded.updated"
    ),
    "policy_get": "SELECT body FROM service_project_policies WHERE project = ?",
    "policy_all": "SELECT project, body FROM service_project_policies ORDER BY project",
    # Per-project totals for the dataset-wide ceiling (service/_ceiling.py).
    "ceiling_topups": (
        "SELECT project, COALESCE(SUM(epsilon_micro), 0), COALESCE(SUM(delta_units), 0)"
        " FROM budget_topups WHERE member IS NULL GROUP BY project"
    ),
    "ceiling_spent": (
        "SELECT project, COALESCE(SUM(epsilon_micro), 0), COALESCE(SUM(delta_units), 0)"
        " FROM budget_ledger WHERE status IN ('reserved', 'committed') GROUP BY project"
    ),
    "review_insert": (
        "INSERT INTO service_reviews (id, project, requester, cache_key, sql, epsilon,"
        " half_width, plan_epsilon, status, steward, reason, created, updated)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'pending', NULL, NULL, ?, ?)"
    ),
    "review_get": (
        "SELECT id, project, requester, cache_key, sql, epsilon, half_width, plan_epsilon,"
        " status, steward, reason, created, updated FROM service_reviews WHERE id = ?"
    ),
    "review_list": (
        "SELECT id, project, requester, cache_key, sql, epsilon, half_width, plan_epsilon,"
        " status, steward, reason, created, updated FROM service_reviews"
        " ORDER BY created, id"
    ),
    "review_open": (
        "SELECT id, status FROM service_reviews WHERE project = ? AND cache_key = ?"
        " AND status IN ('pending', 'approved') ORDER BY created"
    ),
    "review_decide": (
        "UPDATE service_reviews SET status = ?, steward = ?, reason = ?, updated = ?"
        " WHERE id = ? AND status = 'pending'"
    ),
    "review_approved": (
        "SELECT 1 FROM service_reviews WHERE project = ? AND cache_key = ? AND status = 'approved'"
    ),
}


class ServiceTables:
    """The service's tables inside one store; create them on first use."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self._db = store._db
        self._sql = {k: compile_sql(self._db.dialect, v) for k, v in SERVICE_SQL.items()}
        self.run(self._create, write=True)

    @staticmethod
    def _create(tx: Tx, mine: Tx) -> None:
        for statement in SERVICE_DDL:
            mine.raw(statement)

    def run(self, fn: Callable[[Tx, Tx], T], *, write: bool = True) -> T:
        """``fn(store_tx, service_tx)`` in one store transaction (retried whole on conflict)."""

        def body(tx: Tx) -> T:
            mine = Tx(self._db.connection().cursor(), self._sql)
            result = fn(tx, mine)
            tx.after_commit.extend(mine.after_commit)
            return result

        return self._db.transaction(body, write=write)

    def now(self) -> str:
        return self.store._now()

    def audit_in(
        self, tx: Tx, *, actor: str, action: str, project: str | None, detail: str | None = None
    ) -> None:
        """Append a steward-action audit record inside the open transaction."""
        self.store._audit_in(tx, actor=actor, action=action, project=project, detail=detail)
