"""Users, API tokens, project lifecycle and memberships, as functions of one transaction.

A token reads ``enc_<id>.<secret>``: ``id`` (16 hex characters) finds the one stored row,
so verification never scans hashes; ``secret`` is 32 random bytes (``secrets``). Only an
argon2id hash of the whole token is stored, and the token is shown once. After a token
verifies, the process remembers the SHA-256 of it (never the text) so that later
requests skip argon2; expiry and revocation are still read from the database on every
request, so a revoked token stops working at once in every worker.

>>> parse_token("enc_0123456789abcdef.s3cret-s3cret-s3cret")
('0123456789abcdef', 'enc_0123456789abcdef.s3cret-s3cret-s3cret')
>>> parse_token("Bearer nonsense") is None
True
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import re
import secrets
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from enclave.errors import Conflict, NotFound, Unauthorized, UserError
from enclave.store._db import Tx
from enclave.store._types import ROLES, Principal, ProjectRecord

__all__ = [
    "ROLES",
    "TRANSITIONS",
    "TokenVerifier",
    "check_role",
    "check_transition",
    "new_token",
    "parse_token",
    "principal",
    "project_record",
    "require_project",
    "require_user",
]

#: Allowed project status changes: from → to.
TRANSITIONS: dict[str, tuple[str, ...]] = {
    "pending": ("active", "rejected"),
    "active": ("suspended",),
    "suspended": ("active",),
    "rejected": (),
}
_TOKEN = re.compile(r"^enc_([0-9a-f]{16})\.[A-Za-z0-9_-]{16,128}$")
_HASHER = PasswordHasher(time_cost=2, memory_cost=19456, parallelism=1)
_DUMMY = _HASHER.hash("enc_0000000000000000.dummy-token-for-timing")
_INVALID = "The token is not valid. Ask a steward for a new token."


def parse_token(token: str) -> tuple[str, str] | None:
    """Return ``(token_id, token)`` for a well-formed token, else None."""
    m = _TOKEN.match(token.strip()) if isinstance(token, str) else None
    return None if m is None else (m.group(1), token.strip())


def new_token() -> tuple[str, str, str]:
    """A fresh ``(token_id, token, argon2 hash)``; hash outside any transaction."""
    token_id = secrets.token_hex(8)
    token = f"enc_{token_id}.{secrets.token_urlsafe(32)}"
    return token_id, token, _HASHER.hash(token)


class TokenVerifier:
    """argon2 verification with a per-process memory of already verified tokens."""

    def __init__(self, max_entries: int = 10_000) -> None:
        self._seen: dict[str, bytes] = {}
        self._max = max_entries

    def verify(self, token_id: str, token: str, stored_hash: str | None) -> bool:
        digest = hashlib.sha256(token.encode()).digest()
        if stored_hash is not None and token_id in self._seen:
            return hmac.compare_digest(self._seen[token_id], digest)
        try:
            _HASHER.verify(stored_hash or _DUMMY, token)
        except (VerificationError, InvalidHashError):
            return False
        if stored_hash is None:
            return False
        if len(self._seen) >= self._max:
            self._seen.clear()
        self._seen[token_id] = digest
        return True


def principal(
    row: tuple[Any, ...] | None,
    token_id: str,
    token: str,
    verifier: TokenVerifier,
    now: dt.datetime,
) -> Principal:
    """Check a ``token_get`` row: hash first, then revocation and expiry."""
    if not verifier.verify(token_id, token, None if row is None else str(row[2])):
        raise Unauthorized(_INVALID)
    assert row is not None
    _, user, _, expires, revoked, role = row
    if revoked is not None:
        raise Unauthorized("This token was revoked. Ask a steward for a new token.")
    if expires is not None and dt.datetime.fromisoformat(expires) <= now:
        raise Unauthorized("This token has expired. Ask a steward for a new token.")
    return Principal(user=str(user), role=role, token_id=token_id)


def require_user(tx: Tx, user: str) -> tuple[Any, ...]:
    row = tx.one("user_get", (user,))
    if row is None:
        raise NotFound(f"No user {user!r}; add the user first.")
    return row


def check_role(role: str) -> None:
    if role not in ROLES:
        raise UserError(f"Role {role!r} is not known; use one of {', '.join(ROLES)}.")


def project_record(row: tuple[Any, ...]) -> ProjectRecord:
    pid, status, title, purpose, tables, eps, applicant, created, updated, reason = row
    return ProjectRecord(
        id=pid,
        status=status,
        title=title,
        purpose=purpose,
        tables=tuple(json.loads(tables)),
        requested_epsilon=eps,
        applicant=applicant,
        created=created,
        updated=updated,
        reason=reason,
    )


def require_project(tx: Tx, project: str) -> ProjectRecord:
    row = tx.one("project_get", (project,))
    if row is None:
        raise NotFound(f"No project {project!r}; check the id or apply for it first.")
    return project_record(row)


def check_transition(current: str, new: str, project: str) -> None:
    if new not in TRANSITIONS:
        raise UserError(f"Status {new!r} is not known; use one of {', '.join(TRANSITIONS)}.")
    if new not in TRANSITIONS[current]:
        allowed = ", ".join(TRANSITIONS[current]) or "nothing"
        raise Conflict(f"Project {project!r} is {current}; it can become {allowed}.")
