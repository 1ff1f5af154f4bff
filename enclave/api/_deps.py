"""Dependencies shared by the routers: the service, the caller, their role.

A bearer token is required everywhere except ``/healthz``, ``/openapi.json`` and the
public releases. Each authenticated request counts against its token's rate limit.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.concurrency import run_in_threadpool

from enclave.api._rate import RateLimit
from enclave.errors import Unauthorized
from enclave.service import Principal, Service, require_steward

__all__ = [
    "Bearer",
    "Caller",
    "Rate",
    "Steward",
    "Svc",
    "authorised",
    "caller",
    "rate_limit",
    "service",
    "steward",
]

_bearer = HTTPBearer(auto_error=False, description="An API token issued by a steward.")


async def service(request: Request) -> Service:
    svc: Service = request.app.state.service
    return svc


Svc = Annotated[Service, Depends(service)]
Bearer = Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]


async def rate_limit(request: Request) -> RateLimit:
    limit: RateLimit = request.app.state.rate
    return limit


Rate = Annotated[RateLimit, Depends(rate_limit)]


def authorised(
    svc: Service, rate: RateLimit, creds: HTTPAuthorizationCredentials | None
) -> Principal:
    """The principal behind ``Authorization: Bearer <token>``; 401 without a valid one.

    Counts the request against the token's ``rate`` limit. Blocking (store reads, and argon2
    the first time a worker sees a token): call it from a worker thread.
    """
    if creds is None or creds.scheme.lower() != "bearer" or not creds.credentials:
        raise Unauthorized(
            "Send your API token as 'Authorization: Bearer <token>' (ask your steward for one)."
        )
    principal = svc.authenticate(creds.credentials)
    rate.check(principal.token_id)
    return principal


async def caller(svc: Svc, rate: Rate, creds: Bearer) -> Principal:
    return await run_in_threadpool(authorised, svc, rate, creds)


Caller = Annotated[Principal, Depends(caller)]


async def steward(who: Caller) -> Principal:
    require_steward(who)
    return who


Steward = Annotated[Principal, Depends(steward)]
