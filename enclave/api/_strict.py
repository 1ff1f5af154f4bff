"""Strict requests beyond the body models: unknown query parameters are refused (422),
as unknown body fields are, so a misspelt ``?usr=`` never silently means "no filter".

>>> from fastapi import FastAPI
>>> app = FastAPI(dependencies=[STRICT_QUERY])
"""

from __future__ import annotations

from fastapi import Depends, Request
from fastapi.dependencies.models import Dependant
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute

__all__ = ["STRICT_QUERY", "known_query"]


def _query_names(dependant: Dependant) -> set[str]:
    names = {p.alias for p in dependant.query_params}
    for sub in dependant.dependencies:
        names |= _query_names(sub)
    return names


def _allowed(route: APIRoute) -> frozenset[str]:
    return frozenset(_query_names(route.dependant))


async def known_query(request: Request) -> None:
    route = request.scope.get("route")
    if not isinstance(route, APIRoute):
        return
    unknown = sorted(set(request.query_params) - _allowed(route))
    if unknown:  # reported like an unknown body field (422, the names, never the values)
        errors = [{"type": "extra_forbidden", "loc": ("query", name[:40])} for name in unknown]
        raise RequestValidationError(errors)


STRICT_QUERY = Depends(known_query)
