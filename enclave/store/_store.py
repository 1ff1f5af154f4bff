"""``Store``: the metadata store, whatever database is behind it, as five repositories.

``accounts`` (users, tokens), ``projects`` (lifecycle, approval rules, members),
``reviews`` (the review queue), ``ledger`` (budgets, release cache) and ``audit_log``
(the hash-chained log, ingest manifests) share one ``Base``: one database, one clock,
one audit anchor. Every public method is one database transaction (see
``_db.Database.transaction``); all tables and statements are in ``_schema``; what
differs between databases lives in a dialect. Callers use the repositories
(``store.accounts.add_user(…)``, ``store.projects.all()``, ``store.audit_log.verify()``);
the few methods on ``Store`` itself are the gateway's ``GatewayStore`` port.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from enclave.settings import Settings
from enclave.store import _audit
from enclave.store._audit_log import AuditLog
from enclave.store._base import Base, Clock, utc
from enclave.store._budget import Ledger
from enclave.store._db import Database, Dialect, Tx
from enclave.store._postgres import PostgresDialect
from enclave.store._projects import Projects
from enclave.store._reviews import Reviews
from enclave.store._schema import BASE_VERSION, DDL, MIGRATIONS, SCHEMA_VERSION
from enclave.store._sqlite import SQLiteDialect
from enclave.store._types import AuditRecord, BudgetAsk, BudgetLimits, BudgetStatus, Reservation
from enclave.store._users import Accounts

__all__ = ["Store", "open_store"]


class Store:
    """Budget ledger, release cache, audit chain, ingest manifests, accounts, projects.

    Args:
        dialect: how to reach the database (SQLite or PostgreSQL).
        anchor: file that mirrors the audit head (None where a file cannot be shared,
            e.g. several hosts on PostgreSQL).
        clock: returns the current UTC time (tests pass a fake one).
    """

    def __init__(self, dialect: Dialect, *, anchor: Path | None, clock: Clock = utc) -> None:
        base = Base(Database(dialect), anchor, clock)
        self._base, self._db = base, base.db
        self.accounts = Accounts(base)
        self.projects = Projects(base)
        self.reviews = Reviews(base)
        self.ledger = Ledger(base)
        self.audit_log = AuditLog(base)
        self._db.transaction(lambda tx: _create_schema(tx, base))

    def now(self) -> str:
        """The store clock's time, as audit records write it."""
        return self._base.now()

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- the gateway's port (``enclave.gateway.ports.GatewayStore``) -------------------
    def reserve(self, ask: BudgetAsk) -> Reservation:
        """``Ledger.reserve``: hold ε and δ for one request, or raise ``BudgetExhausted``."""
        return self.ledger.reserve(ask)

    def commit(self, reservation: Reservation, *, cache_key: str, release: dict[str, Any]) -> None:
        self.ledger.commit(reservation, cache_key=cache_key, release=release)

    def cached_release(self, project: str, cache_key: str) -> dict[str, Any] | None:
        return self.ledger.cached_release(project, cache_key)

    def approved_for_review(self, project: str, cache_key: str) -> bool:
        """Whether a steward approved this exact query (the gateway's review check)."""
        return self.reviews.approved(project, cache_key)

    def budget(self, project: str, limits: BudgetLimits, user: str | None = None) -> BudgetStatus:
        return self.ledger.budget(project, limits, user)

    def audit(self, record: AuditRecord) -> int:
        return self.audit_log.append(record)


def _create_schema(tx: Tx, base: Base) -> None:
    """Create what is missing, then run the migrations this store has not had yet."""
    for statement in (*base.db.dialect.ddl_prelude, *DDL):
        tx.raw(statement)
    tx.execute("meta_put", ("schema_version", str(BASE_VERSION)))
    row = tx.one("meta_get", ("schema_version",))
    version = int(row[0]) if row is not None else BASE_VERSION
    for step in range(version + 1, SCHEMA_VERSION + 1):
        for statement in MIGRATIONS[step]:
            tx.raw(statement)
        tx.execute("meta_set", (str(step), "schema_version"))
    _audit.init(tx, base.anchor)


def open_store(settings: Settings, *, clock: Clock = utc) -> Store:
    """Open (creating if needed) the metadata store that ``settings`` names.

    ``settings.store_url`` (``postgresql://…``) selects PostgreSQL, shared by several
    hosts, with the audit head anchored in its table only. Otherwise SQLite at
    ``settings.metadata_path``, with the head also anchored in a file next to it.
    """
    if settings.store_url:
        return Store(PostgresDialect(settings.store_url), anchor=None, clock=clock)
    settings.ensure_home()
    path = settings.metadata_path
    anchor = path.with_name(path.name + ".audit-head")
    return Store(SQLiteDialect(path), anchor=anchor, clock=clock)
