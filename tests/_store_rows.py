"""Rows for metadata-store tests (SQLite or PostgreSQL): budget reservations and audit
records with fake users, projects and hashes."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from typing import Any

from enclave.store import AuditRecord, BudgetAsk

__all__ = ["apply_project", "fill_audit", "metadata_rows", "reserve"]


def apply_project(
    store: Any, pid: str, *, applicant: str, tables: Sequence[str] = ("persons",),
    epsilon: float = 1.0,
) -> Any:  # fmt: skip
    """A pending application for project ``pid`` (a placeholder title and purpose)."""
    placeholders = {"title": "t", "purpose": "p"}
    return store.projects.apply(
        pid, **placeholders, tables=tuple(tables), requested_epsilon=epsilon, applicant=applicant
    )


def metadata_rows(settings: Any, sql: str) -> list[Any]:
    """The rows ``sql`` reads straight from the SQLite metadata file of ``settings``."""
    con = sqlite3.connect(settings.metadata_path)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def reserve(
    store: Any, eps: float, *, limits: Any, user: str = "ana", delta: float = 0.0,
    project: str = "demo", rid: str = "r",
) -> Any:  # fmt: skip
    """Reserve ``eps`` (and ``delta``) for a request with a fake SQL hash."""
    ask = BudgetAsk(project, user, eps, delta, request_id=rid, sql_hash="h" * 64, limits=limits)
    return store.reserve(ask)


def fill_audit(
    store: Any, n: int, *, verdicts: Sequence[str] = ("released",), hashed: bool = True,
    error_type: str | None = None,
) -> None:  # fmt: skip
    """``n`` query records by one user in project demo (request ids ``r0``…), verdicts in
    turn; ``hashed``: with a SQL hash and ε 0.1·i; ``error_type`` on the refused ones."""
    for i in range(n):
        verdict = verdicts[i % len(verdicts)]
        extra: dict[str, Any] = {"sql_hash": f"{i:064x}", "epsilon": 0.1 * i} if hashed else {}
        if verdict == "refused" and error_type is not None:
            extra["error_type"] = error_type
        store.audit(
            AuditRecord.now(
                action="query",
                verdict=verdict,
                actor="ana",
                project="demo",
                request_id=f"r{i}",
                **extra,
            )
        )
