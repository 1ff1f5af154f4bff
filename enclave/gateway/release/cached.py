"""The same question asked again: its cache key, and the stored release as answered.

Used by the pipeline and by the service's fast path alike, so a cached answer is built
and audited one way.

>>> from enclave.gateway.values import QueryRequest
>>> len(cache_key(QueryRequest("SELECT 1", "demo", "u", epsilon=0.5), "SELECT 1"))
64
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Mapping
from typing import Any

from enclave.gateway.values import QueryRequest, Release

__all__ = ["audit_record", "cache_key", "from_cache", "sql_hash"]

_FIELDS = {f.name for f in dataclasses.fields(Release)}


def cache_key(request: QueryRequest, normalized_sql: str) -> str:
    """Same normalised SQL, same ε (or half-width), same project ⇒ same release."""
    ask = {"sql": normalized_sql, "epsilon": request.epsilon, "half_width": request.half_width}
    return hashlib.sha256(json.dumps(ask, sort_keys=True).encode()).hexdigest()


def sql_hash(text: str) -> str:
    """What the audit log records of the SQL: its hash, never its text."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def from_cache(stored: Mapping[str, Any], remaining: Mapping[str, Any]) -> Release:
    """The stored release as a cached answer: nothing spent, today's budget."""
    data = {k: v for k, v in stored.items() if k in _FIELDS}
    data["columns"] = tuple(data["columns"])
    data["rows"] = tuple(tuple(r) for r in data["rows"])
    data["notes"] = tuple(data.get("notes") or ())
    data.update(cached=True, epsilon_spent=0.0, delta_spent=0.0, budget_remaining=remaining)
    return Release(**data)


def audit_record(
    request: QueryRequest,
    *,
    action: str,
    digest: str,
    verdict: str,
    epsilon: float = 0.0,
    delta: float = 0.0,
    error_type: str | None = None,
) -> Any:
    """The audit record of one request (refused, estimated, cached or released)."""
    from enclave.store import AuditRecord

    return AuditRecord.now(
        request_id=request.request_id,
        actor=request.user,
        project=request.project,
        action=action,
        sql_hash=digest,
        verdict=verdict,
        epsilon=epsilon,
        delta=delta,
        error_type=error_type,
    )
