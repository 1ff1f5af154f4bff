"""Refusals as problem JSON (RFC 7807) that also carry ``{"error": {"type", "message"}}``.

The ``error.type`` is the name of an ``enclave.errors`` class, so the Python client can
raise the same exception the server raised. Validation errors name the fields at fault
and what is allowed, never the values that were sent.

>>> body = problem_body(NotFound("No project 'x'; check the id."))
>>> body["status"], body["error"]["type"], body["type"]
(404, 'NotFound', 'urn:enclave:error:NotFound')
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from enclave.errors import (
    EnclaveError,
    InternalError,
    NotFound,
    RateLimited,
    Unauthorized,
    UserError,
    error_payload,
    http_status,
)

__all__ = ["PROBLEM", "install_error_handlers", "problem", "problem_body", "validation_message"]

PROBLEM = "application/problem+json"
#: pydantic's error types for a body that is missing or not a JSON object
_NOT_AN_OBJECT = frozenset({"missing", "model_attributes_type", "model_type", "dict_type"})


def problem_body(exc: BaseException, status: int | None = None) -> dict[str, Any]:
    payload = error_payload(exc)
    name, message = payload["error"]["type"], payload["error"]["message"]
    return {
        "type": f"urn:enclave:error:{name}",
        "title": name,
        "status": status or http_status(exc),
        "detail": message,
        **payload,
    }


def problem(exc: BaseException, status: int | None = None) -> JSONResponse:
    body = problem_body(exc, status)
    headers: dict[str, str] = {}
    if isinstance(exc, Unauthorized):
        headers["WWW-Authenticate"] = "Bearer"
    if isinstance(exc, RateLimited):
        headers["Retry-After"] = "60"
    return JSONResponse(body, status_code=body["status"], media_type=PROBLEM, headers=headers)


def validation_message(errors: list[dict[str, Any]]) -> tuple[int, str]:
    """Status and message for pydantic errors: 400 for bad JSON, 422 otherwise.

    >>> validation_message([{"type": "extra_forbidden", "loc": ("body", "foo")}])[0]
    422
    >>> validation_message([{"type": "json_invalid", "loc": ("body", 3)}])[0]
    400
    >>> validation_message([{"type": "model_attributes_type", "loc": ("body",)}])
    (400, 'Send the body as one JSON object with Content-Type: application/json.')
    """
    if any(e.get("type") == "json_invalid" for e in errors):
        return (
            400,
            "The body is not valid JSON; send one JSON object (Content-Type: application/json).",
        )
    if any(
        tuple(e.get("loc", ())) == ("body",) and e.get("type") in _NOT_AN_OBJECT for e in errors
    ):
        # no body, or one that is not a JSON object (often: no Content-Type header)
        return 400, "Send the body as one JSON object with Content-Type: application/json."
    parts = []
    for err in errors[:10]:
        loc = ".".join(str(p) for p in err.get("loc", ()) if p != "body") or "body"
        if err.get("type") == "extra_forbidden":
            parts.append(f"unknown field {loc!r} (remove it; see /openapi.json)")
        elif err.get("type") == "missing":
            parts.append(f"missing field {loc!r}")
        else:
            parts.append(f"field {loc!r}: {err.get('msg', 'invalid')}")
    return 422, "Invalid request: " + "; ".join(parts) + "."


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(EnclaveError)
    async def _enclave(_: Request, exc: EnclaveError) -> JSONResponse:
        return problem(exc)

    @app.exception_handler(RequestValidationError)
    async def _invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        status, message = validation_message(list(exc.errors()))
        return problem(UserError(message), status)

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        if exc.status_code == 404:
            return problem(NotFound("No such endpoint; see /openapi.json for the API."))
        if exc.status_code == 405:
            return problem(UserError("Method not allowed here; see /openapi.json."), 405)
        return problem(UserError("The request was refused; see /openapi.json."), exc.status_code)

    @app.exception_handler(Exception)
    async def _bug(_: Request, exc: Exception) -> JSONResponse:
        return problem(InternalError("unexpected error in the API"), 500)
