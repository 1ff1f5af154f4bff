"""Where a steward verb acts and as whom: a server (``--url`` + token) or this host.

Against a server the verb calls the HTTP API through ``StewardClient`` and the server
records the token's owner. On the enclave's own host it calls the service directly, as
the owner of ``--token`` / ``ENCLAVE_TOKEN`` when one is given, else as the local admin
account that ``enclave init`` created. Nothing typed on the command line names the actor.
"""

from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING, Annotated, Any

import typer

from enclave.cli._common import settings
from enclave.errors import Unauthorized

if TYPE_CHECKING:
    from enclave.service import Principal, Service

__all__ = ["Local", "Token", "Url", "connect"]

Url = Annotated[
    str | None,
    typer.Option("--url", envvar="ENCLAVE_URL", help="Act on a server (or ENCLAVE_URL)."),
]
Token = Annotated[
    str | None,
    typer.Option(
        "--token",
        envvar="ENCLAVE_TOKEN",
        help="Your API token (or ENCLAVE_TOKEN).",
        show_default=False,
    ),
]


class Local:
    """The service with the acting principal bound: ``local.add_user(u, r)`` calls
    ``service.add_user(principal, u, r)``; the same names as ``StewardClient``."""

    def __init__(self, service: Service, principal: Principal) -> None:
        self._service = service
        self.principal = principal

    def __getattr__(self, name: str) -> Any:
        return partial(getattr(self._service, name), self.principal)

    def list_users(self) -> list[dict[str, Any]]:
        from enclave.service import require_steward

        require_steward(self.principal)
        return list(self._service.store.accounts.users())

    def project_budget(self, project: str, member: str | None = None) -> dict[str, Any]:
        return dict(self._service.budget(self.principal, project, member=member))

    def close(self) -> None:
        self._service.close()


class _Once:
    """One call, then the connection (HTTP client or service) is closed."""

    def __init__(self, backend: Any) -> None:
        self._backend = backend

    def __getattr__(self, name: str) -> Any:
        def call(*args: Any, **kwargs: Any) -> Any:
            try:
                return getattr(self._backend, name)(*args, **kwargs)
            finally:
                self._backend.close()

        return call


def connect(url: str | None, token: str | None) -> Any:
    """For one call: a ``StewardClient`` for ``url``, or the local service as the token's
    owner (or the local admin)."""
    return _Once(_open(url, token))


def _open(url: str | None, token: str | None) -> Any:
    if url:
        if not token:
            raise Unauthorized("No token: pass --token or set ENCLAVE_TOKEN to act on a server.")
        from enclave.steward_client import StewardClient

        return StewardClient(url, token)
    from enclave.home import local_admin
    from enclave.service import Service

    service = Service.open(settings())
    try:
        principal = service.authenticate(token) if token else local_admin(service.store)
    except BaseException:
        service.close()
        raise
    return Local(service, principal)
