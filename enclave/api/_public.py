"""Endpoints anyone may call: health and published releases."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from enclave.api._deps import Svc
from enclave.api._docs import answers
from enclave.api._responses import HealthOut, PublicReleasesOut

__all__ = ["router"]

router = APIRouter()


@router.get(
    "/healthz", **answers(HealthOut), tags=["public"], summary="Liveness and store reachability"
)
def healthz(svc: Svc) -> dict[str, Any]:
    store = svc.store  # opens (or reuses) the metadata store; raises if it is unusable
    return {"status": "ok" if store is not None else "no store"}


@router.get(
    "/v1/releases/public",
    **answers(PublicReleasesOut, 400, 422),
    tags=["public"],
    summary="Published indicator releases",
)
def public_releases(svc: Svc, indicator: str | None = None) -> dict[str, Any]:
    """Releases a steward published for everyone (no token needed): noisy weekly
    indicators with their standard errors and intervals. Nothing else is readable here."""
    try:
        from enclave.indicators import public_releases as published
    except ImportError:  # pragma: no cover - indicators not installed
        return {"releases": []}
    return {"releases": published(svc.settings, indicator)}
