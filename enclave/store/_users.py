"""The accounts repository: users and their API tokens.

Steward actions name their ``actor`` and are audited in the same transaction as the
change. Token format and hashing are in ``_accounts``.
"""

from __future__ import annotations

import datetime as dt
import functools
from typing import Any

from enclave.errors import Conflict, NotFound, Unauthorized, UserError
from enclave.store import _accounts as acc
from enclave.store._base import Repository
from enclave.store._db import Tx
from enclave.store._types import Principal

__all__ = ["Accounts"]

_TOKEN_KEYS = ("id", "user", "created", "expires", "revoked")


class Accounts(Repository):
    """Users (steward, researcher, public) and their tokens."""

    def add_user(self, user: str, role: str, *, actor: str = "system") -> None:
        """Create a user with a role (steward, researcher, public); Conflict if it exists."""
        acc.check_role(role)
        if not user or len(user) > 200:
            raise UserError("A user id must be 1 to 200 characters.")

        def run(tx: Tx) -> None:
            if tx.one("user_get", (user,)) is not None:
                raise Conflict(f"User {user!r} already exists.")
            tx.execute("user_insert", (user, role, self._b.now()))
            self._b.audit_in(tx, actor=actor, action="add_user", detail=f"{user} as {role}")

        self._b.write(run)

    def user(self, user: str) -> dict[str, Any] | None:
        row = self._b.read(lambda tx: tx.one("user_get", (user,)))
        return None if row is None else {"id": row[0], "role": row[1], "created": row[2]}

    def users(self) -> list[dict[str, Any]]:
        rows = self._b.read(lambda tx: tx.all("user_all"))
        return [{"id": r[0], "role": r[1], "created": r[2]} for r in rows]

    def issue_token(
        self, user: str, ttl: dt.timedelta | None = None, *, actor: str = "system"
    ) -> str:
        """A new token for ``user``, returned once; only its argon2 hash is stored."""
        if ttl is not None and ttl <= dt.timedelta(0):
            raise UserError("A token's lifetime must be positive; give a later expiry.")
        token_id, token, digest = acc.new_token()  # argon2 runs outside the transaction
        now = self._b.clock()
        expires = None if ttl is None else (now + ttl).astimezone(dt.UTC).isoformat()

        def run(tx: Tx) -> None:
            acc.require_user(tx, user)
            tx.execute("token_insert", (token_id, user, digest, self._b.now(), expires))
            detail = f"token {token_id} for {user}"
            self._b.audit_in(tx, actor=actor, action="issue_token", detail=detail)

        self._b.write(run)
        return token

    def authenticate(self, token: str) -> Principal:
        """The principal a token belongs to; ``Unauthorized`` if unknown, expired or revoked."""
        parsed = acc.parse_token(token)
        if parsed is None:
            raise Unauthorized("Malformed token. Send the token exactly as it was issued.")
        token_id, text = parsed
        row = self._b.read(lambda tx: tx.one("token_get", (token_id,)))
        return acc.principal(row, token_id, text, self._verifier, self._b.clock())

    @functools.cached_property
    def _verifier(self) -> acc.TokenVerifier:
        """argon2 verification, remembering this process's verified tokens."""
        return acc.TokenVerifier()

    def revoke_token(self, token_id: str, *, actor: str = "system") -> None:
        """Revoke a token by its id (the part after ``enc_``); NotFound if unknown."""

        def run(tx: Tx) -> None:
            row = tx.one("token_exists", (token_id,))
            if row is None:
                raise NotFound("No token with that id; list the user's tokens to find it.")
            if row[0] is None:
                tx.execute("token_revoke", (self._b.now(), token_id))
                detail = f"token {token_id} of {row[1]}"
                self._b.audit_in(tx, actor=actor, action="revoke_token", detail=detail)

        self._b.write(run)

    def tokens(self, user: str) -> list[dict[str, Any]]:
        """Token metadata (never a hash) for one user."""
        rows = self._b.read(lambda tx: tx.all("token_list", (user,)))
        return [dict(zip(_TOKEN_KEYS, r, strict=True)) for r in rows]
