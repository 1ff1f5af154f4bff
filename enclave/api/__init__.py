"""The HTTP API (FastAPI): researchers, stewards and the public over bearer tokens.

``create_app(settings)`` builds the app; ``enclave serve`` runs it with uvicorn workers
(``app_from_environ`` is the factory each worker calls). OpenAPI is at ``/openapi.json``
(Swagger UI at ``/docs``, ReDoc at ``/redoc``, both offline), refusals are problem JSON
with ``{"error": {"type", "message"}}``.

>>> from enclave.settings import Settings
>>> app = create_app(Settings(home=__import__("pathlib").Path("/tmp/enclave-doctest")))
>>> sorted(p for p in app.openapi()["paths"] if "budget" in p)
['/v1/projects/{project}/budget', '/v1/projects/{project}/budget/top-ups']
"""

from __future__ import annotations

import os

from fastapi import FastAPI

from enclave.api import _alerts, _public, _queries, _steward
from enclave.api._docs import install_docs
from enclave.api._errors import install_error_handlers
from enclave.api._limits import BodyLimit
from enclave.api._rate import RateLimit
from enclave.api._strict import STRICT_QUERY
from enclave.service import Service
from enclave.settings import Settings

__all__ = ["MAX_BODY_BYTES", "app_from_environ", "create_app"]

MAX_BODY_BYTES = 64 * 1024


def create_app(
    settings: Settings,
    *,
    rate_limit_per_minute: int | None = 600,
    max_body_bytes: int = MAX_BODY_BYTES,
) -> FastAPI:
    """The API over the enclave in ``settings.home``.

    Args:
        settings: where the enclave lives.
        rate_limit_per_minute: requests per token per minute across all workers (None:
            no limit).
        max_body_bytes: larger request bodies are refused with 413.
    """
    app = FastAPI(
        title="Claims enclave API",
        version="1",
        description=(
            "Differentially private answers to SQL over health-insurance claims. "
            "Send `Authorization: Bearer <token>`; refusals are problem JSON "
            "(`application/problem+json`)."
        ),
        docs_url=None,
        redoc_url=None,
        dependencies=[STRICT_QUERY],
    )
    app.state.service = Service(settings)
    app.state.rate = RateLimit(settings.home / "rate-limits.sqlite", rate_limit_per_minute)
    install_error_handlers(app)
    install_docs(app)
    app.include_router(_public.router)
    app.include_router(_alerts.router)
    app.include_router(_queries.router)
    app.include_router(_steward.router)
    app.add_middleware(BodyLimit, max_bytes=max_body_bytes)
    return app


def app_from_environ() -> FastAPI:
    """The factory ``enclave serve`` hands to uvicorn (this is the process edge)."""
    limit = os.environ.get("ENCLAVE_RATE_LIMIT", "600")
    return create_app(
        Settings.from_environ(), rate_limit_per_minute=int(limit) if int(limit) > 0 else None
    )
