"""Answering repeated questions from the release cache without the gateway's front half.

The gateway keys its release cache by (project, normalised SQL, ε or half-width). Once a
request has gone through the whole gateway in this process, the service remembers, for
its exact text, the cache key and SQL hash the gateway used and a fingerprint of the
project's policy at that time. The same text asked again by a member is answered in one
read transaction (project state, membership, cached release, budget) and one audit
record: no parsing, no warehouse. If the project's policy changed since (rules, members,
status), the fingerprint differs and the request goes through the gateway again; if the
caller is not an active member, the ordinary path refuses it with the right error.

>>> m = Memo(max_entries=1)
>>> m.put("a", ("k", "h", "p")); m.put("b", ("k2", "h2", "p")); m.get("a") is None
True
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import threading
from collections.abc import Callable
from typing import Any

from enclave.gateway import QueryRequest
from enclave.gateway.release.cached import audit_record, from_cache
from enclave.store import BudgetStatus, ProjectState

__all__ = ["Memo", "answer_cached", "fingerprint", "memo_key"]

_STATUS_FIELDS = dataclasses.fields(BudgetStatus)
Known = tuple[str, str, str]  # cache key, SQL hash, policy fingerprint


class Memo:
    """A bounded map from request text to what the gateway used for it; per process."""

    def __init__(self, max_entries: int = 20_000) -> None:
        self._data: dict[str, Known] = {}
        self._max = max_entries
        self._lock = threading.Lock()

    def get(self, key: str) -> Known | None:
        return self._data.get(key)

    def put(self, key: str, value: Known) -> None:
        with self._lock:
            if len(self._data) >= self._max:
                self._data.clear()
            self._data[key] = value


def memo_key(request: QueryRequest) -> str:
    text = json.dumps([request.project, request.sql, request.epsilon, request.half_width])
    return hashlib.sha256(text.encode()).hexdigest()


def fingerprint(policy: Any) -> str:
    return hashlib.sha256(repr(policy).encode()).hexdigest()


def answer_cached(
    store: Any,
    request: QueryRequest,
    known: Known,
    policy_of: Callable[[ProjectState], Any],
) -> dict[str, Any] | None:
    """The stored release for ``known``, audited; None when the fast path does not apply.

    ``policy_of(state)`` is the project's effective policy given its state in the store.
    """
    key, digest, expected = known

    def usable(state: ProjectState) -> Any:
        policy = policy_of(state)
        ok = (
            policy is not None
            and policy.status == "active"
            and request.user in policy.members
            and fingerprint(policy) == expected
        )
        return policy if ok else None

    found = store.projects.cached_for_member(request.project, key, request.user, usable)
    if found is None:
        return None
    stored, status = found
    remaining = {f.name: getattr(status, f.name) for f in _STATUS_FIELDS}
    store.audit(audit_record(request, action="query", digest=digest, verdict="cached"))
    return from_cache(stored, remaining).to_json()
