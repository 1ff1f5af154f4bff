"""User errors and bugs are different types; one place maps them to exit codes and HTTP.

Messages say what was wrong and what to do next. They never carry a data value: no
identifier, no row, no exact count.

>>> exit_code(QueryRejected("Only SELECT statements are allowed."))
2
>>> http_status(BudgetExhausted("Requested 1.0, remaining 0.5."))
429
>>> exit_code(InternalError("stage returned nothing"))
1
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "BudgetExhausted",
    "Conflict",
    "EnclaveError",
    "Forbidden",
    "IngestError",
    "InternalError",
    "NotFound",
    "PolicyError",
    "PolicyViolation",
    "QueryRejected",
    "RateLimited",
    "Unauthorized",
    "UserError",
    "error_payload",
    "exit_code",
    "http_status",
]


class EnclaveError(Exception):
    """Base of every error the enclave raises on purpose."""

    @property
    def message(self) -> str:
        return str(self.args[0]) if self.args else self.__class__.__name__


class UserError(EnclaveError):
    """Something the caller can fix; the message says how."""


class QueryRejected(UserError):
    """The SQL is outside what the gateway accepts (syntax, shape, functions)."""


class PolicyViolation(UserError):
    """The SQL is well formed but the project's policy does not allow it."""


class BudgetExhausted(UserError):
    """The request would spend more privacy budget than remains."""


class IngestError(UserError):
    """An extract, key file or warehouse path cannot be used as given."""


class PolicyError(UserError):
    """A steward's policy file is invalid."""


class Unauthorized(UserError):
    """No valid credential was presented."""


class Forbidden(UserError):
    """The credential is valid but its role or project does not allow this."""


class NotFound(UserError):
    """The named project, member, token or release does not exist."""


class Conflict(UserError):
    """The request conflicts with the current state (e.g. already approved)."""


class RateLimited(UserError):
    """Too many requests from one token; retry later."""


class InternalError(EnclaveError, AssertionError):
    """An invariant broke: this is probably a bug, not something the caller did."""

    @property
    def message(self) -> str:
        return "Internal error in the enclave; this is probably a bug. It has been audited."


#: The HTTP status of each error class; a subclass not listed has its nearest base's.
_HTTP: dict[type[EnclaveError], int] = {
    UserError: 400,
    QueryRejected: 422,
    PolicyViolation: 403,
    BudgetExhausted: 429,
    Unauthorized: 401,
    Forbidden: 403,
    NotFound: 404,
    Conflict: 409,
    RateLimited: 429,
}


def exit_code(exc: BaseException) -> int:
    """CLI exit code: 2 for user errors, 1 for everything else."""
    return 2 if isinstance(exc, UserError) else 1


def http_status(exc: BaseException) -> int:
    """HTTP status for an exception (500 for bugs and anything unexpected)."""
    return next((_HTTP[c] for c in type(exc).__mro__ if c in _HTTP), 500)


def error_payload(exc: BaseException) -> dict[str, Any]:
    """The JSON body of a refusal: ``{"error": {"type": ..., "message": ...}}``.

    Unexpected exceptions are reported as ``InternalError`` with a generic message so
    that no engine text (which could carry a data value) ever reaches a user.
    """
    if isinstance(exc, EnclaveError):
        return {"error": {"type": type(exc).__name__, "message": exc.message}}
    return {"error": {"type": "InternalError", "message": InternalError().message}}
