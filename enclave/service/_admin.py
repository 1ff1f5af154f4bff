"""What a steward administers: users, their API tokens, and the audit log.

Every method takes the acting principal first and refuses (``Forbidden``) anyone but a
steward; every change is audited by the store in its own transaction.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

from enclave.errors import InternalError, NotFound, UserError
from enclave.service._access import require_steward
from enclave.service._validate import ROLES, USER_ID, validate_id

if TYPE_CHECKING:
    from enclave.store import Principal, Store

__all__ = ["Administration"]


class Administration:
    """Users, tokens and the audit log of one store.

    Args:
        store: the metadata store.
    """

    def __init__(self, store: Store) -> None:
        self._store = store

    # -- users -----------------------------------------------------------------------
    def add_user(self, principal: Principal, user: str, role: str) -> dict[str, Any]:
        require_steward(principal)
        validate_id("user id", user, USER_ID)
        if role not in ROLES:
            raise UserError(f"A role is one of {', '.join(ROLES)}.")
        self._store.accounts.add_user(user, role, actor=principal.user)
        added = self._store.accounts.user(user)
        if added is None:
            raise InternalError("A user just added is not in the store.")
        return dict(added)

    # -- tokens ----------------------------------------------------------------------
    def issue_token(
        self, principal: Principal, user: str, ttl_days: float | None
    ) -> dict[str, Any]:
        """A new token for ``user``, shown once; with an expiry if ``ttl_days`` is given."""
        require_steward(principal)
        if ttl_days is not None and ttl_days <= 0:
            raise UserError("A token's lifetime must be positive; give days > 0.")
        ttl = None if ttl_days is None else dt.timedelta(days=ttl_days)
        token = self._store.accounts.issue_token(user, ttl, actor=principal.user)
        token_id = token.split(".", 1)[0].removeprefix("enc_")
        listed = {t["id"]: t for t in self._store.accounts.tokens(user)}
        return {"token": token, "id": token_id, "user": user, **_expiry(listed.get(token_id))}

    def list_tokens(self, principal: Principal, user: str) -> list[dict[str, Any]]:
        require_steward(principal)
        if self._store.accounts.user(user) is None:
            raise NotFound(f"No user {user!r}; check `enclave user` names.")
        return list(self._store.accounts.tokens(user))

    def revoke_token(self, principal: Principal, token_id: str) -> dict[str, Any]:
        require_steward(principal)
        self._store.accounts.revoke_token(token_id, actor=principal.user)
        return {"id": token_id, "revoked": True}

    # -- audit -----------------------------------------------------------------------
    def audit_export(self, principal: Principal) -> list[dict[str, Any]]:
        require_steward(principal)
        return list(self._store.audit_log.export())

    def audit_verify(self, principal: Principal) -> dict[str, Any]:
        require_steward(principal)
        return dict(self._store.audit_log.verify().to_json())


def _expiry(row: dict[str, Any] | None) -> dict[str, Any]:
    return {"expires": None if row is None else row.get("expires")}
