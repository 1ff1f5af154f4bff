"""Account, token, project-lifecycle and membership methods of ``Store``.

Steward actions name their ``actor`` and are audited in the same transaction as the
change. Policy files stay the static source of a project's rules; the store keeps who
exists, which credentials are valid, and where each project is in its lifecycle.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from enclave.errors import Conflict, NotFound, Unauthorized, UserError
from enclave.store import _accounts as acc
from enclave.store._db import Tx
from enclave.store._types import Principal, ProjectRecord

if TYPE_CHECKING:
    from enclave.store._db import Database

__all__ = ["AccountMethods"]


class AccountMethods:
    """Mixed into ``Store``; relies on its database, clock and audit helper."""

    _db: Database
    _anchor: Path | None
    _clock: Callable[[], dt.datetime]
    _verifier: acc.TokenVerifier | None = None

    def _now(self) -> str:  # pragma: no cover - provided by Store
        raise NotImplementedError

    def _audit_in(
        self,
        tx: Tx,
        *,
        actor: str,
        action: str,
        project: str | None = None,
        detail: str | None = None,
    ) -> int:  # pragma: no cover
        raise NotImplementedError

    # -- users ----------------------------------------------------------------------
    def add_user(self, user: str, role: str, *, actor: str = "system") -> None:
        """Create a user with a role (steward, researcher, public); Conflict if it exists."""
        acc.check_role(role)
        if not user or len(user) > 200:
            raise UserError("A user id must be 1 to 200 characters.")

        def run(tx: Tx) -> None:
            if tx.one("user_get", (user,)) is not None:
                raise Conflict(f"User {user!r} already exists.")
            tx.execute("user_insert", (user, role, self._now()))
            self._audit_in(tx, actor=actor, action="add_user", detail=f"{user} as {role}")

        self._db.transaction(run)

    def user(self, user: str) -> dict[str, Any] | None:
        row = self._db.transaction(lambda tx: tx.one("user_get", (user,)), write=False)
        return None if row is None else {"id": row[0], "role": row[1], "created": row[2]}

    def users(self) -> list[dict[str, Any]]:
        rows = self._db.transaction(lambda tx: tx.all("user_all"), write=False)
        return [{"id": r[0], "role": r[1], "created": r[2]} for r in rows]

    # -- tokens ---------------------------------------------------------------------
    def issue_token(
        self, user: str, ttl: dt.timedelta | None = None, *, actor: str = "system"
    ) -> str:
        """A new token for ``user``, returned once; only its argon2 hash is stored."""
        if ttl is not None and ttl <= dt.timedelta(0):
            raise UserError("A token's lifetime must be positive; give a later expiry.")
        token_id, token, digest = acc.new_token()  # argon2 runs outside the transaction
        now = self._clock()
        expires = None if ttl is None else (now + ttl).astimezone(dt.UTC).isoformat()

        def run(tx: Tx) -> None:
            acc.require_user(tx, user)
            tx.execute("token_insert", (token_id, user, digest, self._now(), expires))
            self._audit_in(
                tx, actor=actor, action="issue_token", detail=f"token {token_id} for {user}"
            )

        self._db.transaction(run)
        return token

    def authenticate(self, token: str) -> Principal:
        """The principal a token belongs to; ``Unauthorized`` if unknown, expired or revoked."""
        parsed = acc.parse_token(token)
        if parsed is None:
            raise Unauthorized("Malformed token. Send the token exactly as it was issued.")
        token_id, text = parsed
        row = self._db.transaction(lambda tx: tx.one("token_get", (token_id,)), write=False)
        if self._verifier is None:
            self._verifier = acc.TokenVerifier()
        return acc.principal(row, token_id, text, self._verifier, self._clock())

    def revoke_token(self, token_id: str, *, actor: str = "system") -> None:
        """Revoke a token by its id (the part after ``enc_``); NotFound if unknown."""

        def run(tx: Tx) -> None:
            row = tx.one("token_exists", (token_id,))
            if row is None:
                raise NotFound("No token with that id; list the user's tokens to find it.")
            if row[0] is None:
                tx.execute("token_revoke", (self._now(), token_id))
                self._audit_in(
                    tx, actor=actor, action="revoke_token", detail=f"token {token_id} of {row[1]}"
                )

        self._db.transaction(run)

    def tokens(self, user: str) -> list[dict[str, Any]]:
        """Token metadata (never a hash) for one user."""
        rows = self._db.transaction(lambda tx: tx.all("token_list", (user,)), write=False)
        keys = ("id", "user", "created", "expires", "revoked")
        return [dict(zip(keys, r, strict=True)) for r in rows]

    # -- projects -------------------------------------------------------------------
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
        """Record a project application (or, with ``status="active"``, a steward's
        direct creation, e.g. from a policy file). Conflict if the id is taken."""
        if status not in ("pending", "active"):
            raise UserError("A new project is either pending or active.")

        def run(tx: Tx) -> ProjectRecord:
            if tx.one("project_get", (project,)) is not None:
                raise Conflict(f"Project {project!r} already exists; choose another id.")
            now = self._now()
            tx.execute(
                "project_insert",
                (
                    project,
                    status,
                    title,
                    purpose,
                    json.dumps(list(tables)),
                    requested_epsilon,
                    applicant,
                    now,
                    now,
                ),
            )
            detail = status if actor in (None, applicant) else f"{status} for {applicant}"
            self._audit_in(
                tx, actor=actor or applicant, action="apply_project", project=project, detail=detail
            )
            return acc.require_project(tx, project)

        return self._db.transaction(run)

    def set_project_status(
        self, project: str, status: str, *, steward: str, reason: str | None = None
    ) -> ProjectRecord:
        """Approve (active), reject, suspend or reactivate a project; audited."""

        def run(tx: Tx) -> ProjectRecord:
            acc.check_transition(acc.require_project(tx, project).status, status, project)
            tx.execute("project_status", (status, reason, self._now(), project))
            self._audit_in(
                tx, actor=steward, action=f"project_{status}", project=project, detail=reason
            )
            return acc.require_project(tx, project)

        return self._db.transaction(run)

    def project(self, project: str) -> ProjectRecord | None:
        row = self._db.transaction(lambda tx: tx.one("project_get", (project,)), write=False)
        return None if row is None else acc.project_record(row)

    def projects(self) -> list[ProjectRecord]:
        rows = self._db.transaction(lambda tx: tx.all("project_all"), write=False)
        return [acc.project_record(r) for r in rows]

    # -- memberships ----------------------------------------------------------------
    def add_member(self, project: str, user: str, *, steward: str) -> None:
        def run(tx: Tx) -> None:
            acc.require_project(tx, project)
            acc.require_user(tx, user)
            if tx.execute("member_insert", (project, user, self._now())):
                self._audit_in(tx, actor=steward, action="add_member", project=project, detail=user)

        self._db.transaction(run)

    def remove_member(self, project: str, user: str, *, steward: str) -> None:
        def run(tx: Tx) -> None:
            if not tx.execute("member_delete", (project, user)):
                raise NotFound(f"{user!r} is not a member of {project!r}.")
            self._audit_in(tx, actor=steward, action="remove_member", project=project, detail=user)

        self._db.transaction(run)

    def members(self, project: str) -> list[str]:
        rows = self._db.transaction(lambda tx: tx.all("members_of", (project,)), write=False)
        return [r[0] for r in rows]

    def memberships(self, user: str) -> list[str]:
        rows = self._db.transaction(lambda tx: tx.all("projects_of", (user,)), write=False)
        return [r[0] for r in rows]
