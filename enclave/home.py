"""Creating an enclave home, and the one local admin account it comes with.

``enclave init`` (and ``enclave demo``) create ``ENCLAVE_HOME`` with its metadata store
and a steward account, ``admin@local``. Steward commands run on the enclave's own machine
without ``--token`` act as that account, so every audit record names a real user; with a
token (local or ``--url``) they act as the token's owner.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from enclave.errors import UserError
from enclave.settings import Settings

if TYPE_CHECKING:
    from enclave.store import Principal

__all__ = ["LOCAL_ADMIN", "InitResult", "init_home", "local_admin"]

#: The steward account of whoever runs commands on the enclave host without a token.
LOCAL_ADMIN = "admin@local"


@dataclass(frozen=True)
class InitResult:
    home: str
    admin: str
    created: bool

    def to_json(self) -> dict[str, Any]:
        return {"home": self.home, "admin": self.admin, "created": self.created}


def init_home(settings: Settings) -> InitResult:
    """Create the home, its metadata store and the local admin account (idempotent)."""
    from enclave.store import open_store

    existed = settings.home_exists
    settings.ensure_home()
    with open_store(settings) as store:
        if store.accounts.user(LOCAL_ADMIN) is None:
            store.accounts.add_user(LOCAL_ADMIN, "steward", actor="init")
    return InitResult(str(settings.home), LOCAL_ADMIN, created=not existed)


def local_admin(store: Any) -> Principal:
    """The local admin as a principal; a UserError if this home has none."""
    from enclave.store import Principal

    user = store.accounts.user(LOCAL_ADMIN)
    if user is None or user["role"] != "steward":
        raise UserError(
            "This enclave has no local admin account; run `enclave init` once on this "
            "host, or pass a steward's --token."
        )
    return Principal(user=LOCAL_ADMIN, role="steward", token_id="local-admin")  # noqa: S106
