"""``Store``: the metadata store, whatever database is behind it, as five repositories.

``accounts`` (users, tokens), ``projects`` (lifecycle, approval rules, members),
``reviews`` (the review queue), ``ledger`` (budgets, release cache) and ``audit_log``
(the hash-chained log, ingest manifests) share one ``Base``: one database, one clock,
one audit anchor. Every public method is one database transaction (see
``_db.Database.transaction``); all tables and statements are in ``_schema``; what
differs between databases lives in a dialect. The methods on ``Store`` itself are the
short names callers use (``store.projects.all()`` lists the projects); each hands over to
its repository.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
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
from enclave.store._schema import DDL, SCHEMA_VERSION
from enclave.store._sqlite import SQLiteDialect
from enclave.store._types import (
    AuditRecord,
    AuditVerification,
    BudgetLimits,
    BudgetStatus,
    Principal,
    ProjectRecord,
    Reservation,
)
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

    # -- ledger -------------------------------------------------------------------------
    def reserve(self, **ask: Any) -> Reservation:
        """``Ledger.reserve``: hold ε and δ for one request, or raise ``BudgetExhausted``.

        Takes ``Ledger.reserve``'s keywords as they are: the gateway's ``GatewayStore``
        port declares ``reserve(**ask)``, which an explicit signature would not satisfy.
        """
        return self.ledger.reserve(**ask)

    def commit(self, reservation: Reservation, *, cache_key: str, release: dict[str, Any]) -> None:
        self.ledger.commit(reservation, cache_key=cache_key, release=release)

    def cancel(self, reservation: Reservation, *, error_type: str) -> None:
        self.ledger.cancel(reservation, error_type=error_type)

    def cached_release(self, project: str, cache_key: str) -> dict[str, Any] | None:
        return self.ledger.cached_release(project, cache_key)

    def approved_for_review(self, project: str, cache_key: str) -> bool:
        """Whether a steward approved this exact query (the gateway's review check)."""
        return bool(self.reviews.approved(project, cache_key))

    def budget(self, project: str, limits: BudgetLimits, user: str | None = None) -> BudgetStatus:
        return self.ledger.budget(project, limits, user)

    def top_up(
        self,
        project: str,
        *,
        epsilon: float,
        delta: float = 0.0,
        reason: str,
        steward: str,
        member: str | None = None,
    ) -> None:
        """``Ledger.top_up``: add ε/δ to a project (or one member's cap)."""
        self.ledger.top_up(
            project, epsilon=epsilon, delta=delta, reason=reason, steward=steward, member=member
        )

    # -- audit log ----------------------------------------------------------------------
    def audit(self, record: AuditRecord) -> int:
        return self.audit_log.append(record)

    def verify_audit(self) -> AuditVerification:
        return self.audit_log.verify()

    def export_audit(self) -> Iterator[dict[str, Any]]:
        return self.audit_log.export()

    def record_manifest(self, manifest: dict[str, Any]) -> None:
        self.audit_log.record_manifest(manifest)

    def manifests(self) -> list[dict[str, Any]]:
        return self.audit_log.manifests()

    # -- accounts -----------------------------------------------------------------------
    def add_user(self, user: str, role: str, *, actor: str = "system") -> None:
        self.accounts.add_user(user, role, actor=actor)

    def user(self, user: str) -> dict[str, Any] | None:
        return self.accounts.user(user)

    def users(self) -> list[dict[str, Any]]:
        return self.accounts.users()

    def issue_token(
        self, user: str, ttl: dt.timedelta | None = None, *, actor: str = "system"
    ) -> str:
        return self.accounts.issue_token(user, ttl, actor=actor)

    def authenticate(self, token: str) -> Principal:
        return self.accounts.authenticate(token)

    def revoke_token(self, token_id: str, *, actor: str = "system") -> None:
        self.accounts.revoke_token(token_id, actor=actor)

    def tokens(self, user: str) -> list[dict[str, Any]]:
        return self.accounts.tokens(user)

    # -- projects -----------------------------------------------------------------------
    def apply_project(
        self,
        project: str,
        *,
        title: str,
        purpose: str,
        tables: tuple[str, ...],
        requested_epsilon: float | None,
        applicant: str,
        status: str = "pending",
        actor: str | None = None,
    ) -> ProjectRecord:
        """``Projects.apply``: an application (or a steward's direct creation)."""
        return self.projects.apply(
            project, title=title, purpose=purpose, tables=tables,
            requested_epsilon=requested_epsilon, applicant=applicant, status=status, actor=actor,
        )  # fmt: skip

    def set_project_status(
        self, project: str, status: str, *, steward: str, reason: str | None = None
    ) -> ProjectRecord:
        return self.projects.set_status(project, status, steward=steward, reason=reason)

    def project(self, project: str) -> ProjectRecord | None:
        return self.projects.get(project)

    def add_member(self, project: str, user: str, *, steward: str) -> None:
        self.projects.add_member(project, user, steward=steward)

    def remove_member(self, project: str, user: str, *, steward: str) -> None:
        self.projects.remove_member(project, user, steward=steward)

    def members(self, project: str) -> list[str]:
        return self.projects.members(project)

    def memberships(self, user: str) -> list[str]:
        return self.projects.memberships(user)


def _create_schema(tx: Tx, base: Base) -> None:
    for statement in (*base.db.dialect.ddl_prelude, *DDL):
        tx.raw(statement)
    tx.execute("meta_put", ("schema_version", str(SCHEMA_VERSION)))
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
