"""The standing indicators' scheduler, run on a service (opened here when none is given)."""

from __future__ import annotations

from typing import Any

from enclave.indicators import RunSummary, release_with
from enclave.service._core import Service
from enclave.settings import Settings

__all__ = ["backfill_indicators", "release_indicators"]


def release_indicators(
    settings: Settings, *, service: Service | None = None, **options: Any
) -> RunSummary:
    """Release (and by default publish) indicator weeks; ``options`` as for ``release_with``.

    ``service``: an open service; one is opened (and closed) if None.
    """
    svc = service if service is not None else Service.open(settings)
    try:
        return release_with(svc, settings, **options)
    finally:
        if service is None:
            svc.close()


def backfill_indicators(settings: Settings, *, service: Service | None = None) -> dict[str, Any]:
    """Release and publish every complete week of every indicator; a JSON-ready summary."""
    return release_indicators(settings, which="all", publish_now=True, service=service).to_json()
