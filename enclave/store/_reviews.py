"""The review queue: queries above a project's review threshold wait for a steward.

A review is keyed by the gateway's cache key (same normalised SQL, same ε or half-width,
same project), so approving it lets exactly that query run once; afterwards the release
cache answers repeats. The SQL text is kept so the steward can read it; it is the
researcher's own text, never data.
"""

from __future__ import annotations

import uuid
from typing import Any

from enclave.errors import Conflict, NotFound
from enclave.store._base import Repository
from enclave.store._db import Tx

__all__ = ["Reviews"]

_FIELDS = (
    "id", "project", "requester", "cache_key", "sql", "epsilon", "half_width",
    "plan_epsilon", "status", "steward", "reason", "created", "updated",
)  # fmt: skip


def _get(tx: Tx, review_id: str) -> dict[str, Any]:
    row = tx.one("review_get", (review_id,))
    if row is None:
        raise NotFound("No review with that id; list pending reviews to find it.")
    return dict(zip(_FIELDS, row, strict=True))


class Reviews(Repository):
    """Submitted, approved and rejected reviews."""

    def submit(
        self,
        *,
        project: str,
        requester: str,
        cache_key: str,
        sql: str,
        epsilon: float | None,
        half_width: float | None,
        plan_epsilon: float,
    ) -> dict[str, Any]:
        """Queue a query for review; an open review of the same query is returned instead."""

        def run(tx: Tx) -> dict[str, Any]:
            for rid, _status in tx.all("review_open", (project, cache_key)):
                return _get(tx, rid)
            rid = uuid.uuid4().hex[:16]
            now = self._b.now()
            tx.execute(
                "review_insert",
                (rid, project, requester, cache_key, sql, epsilon, half_width, plan_epsilon,
                 now, now),
            )  # fmt: skip
            self._b.audit_in(
                tx, actor=requester, action="review_submit", project=project, detail=rid
            )
            return _get(tx, rid)

        return self._b.write(run)

    def decide(
        self, review_id: str, *, approve: bool, steward: str, reason: str | None
    ) -> dict[str, Any]:
        """Approve or reject a pending review; NotFound / Conflict otherwise. Audited."""
        status = "approved" if approve else "rejected"

        def run(tx: Tx) -> dict[str, Any]:
            current = _get(tx, review_id)
            if current["status"] != "pending":
                raise Conflict(f"That review is already {current['status']}; nothing was changed.")
            tx.execute("review_decide", (status, steward, reason, self._b.now(), review_id))
            self._b.audit_in(
                tx,
                actor=steward,
                action=f"review_{status}",
                project=current["project"],
                detail=review_id,
            )
            return _get(tx, review_id)

        return self._b.write(run)

    def list(
        self,
        *,
        status: str | None = None,
        project: str | None = None,
        requester: str | None = None,
    ) -> list[dict[str, Any]]:
        """Reviews, oldest first, filtered by status, project and requester."""
        rows = self._b.read(lambda tx: tx.all("review_list"))
        out = [dict(zip(_FIELDS, r, strict=True)) for r in rows]
        return [
            r
            for r in out
            if (status is None or r["status"] == status)
            and (project is None or r["project"] == project)
            and (requester is None or r["requester"] == requester)
        ]

    def approved(self, project: str, cache_key: str) -> bool:
        """True when a steward approved exactly this query for this project."""
        row = self._b.read(lambda tx: tx.one("review_approved", (project, cache_key)))
        return row is not None
