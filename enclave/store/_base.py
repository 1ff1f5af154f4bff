"""What every repository of the metadata store is built on: one database, a clock and
the audit chain's anchor.

Each repository (accounts, projects, reviews, ledger, audit) is a ``Repository`` over the
same ``Base``, so they share the connections, the transaction helper and the audit chain:
a change and its audit record always commit together or not at all.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from enclave.store import _audit
from enclave.store._db import Database, Tx
from enclave.store._types import AuditRecord

__all__ = ["Base", "Clock", "Repository", "utc"]

T = TypeVar("T")
Clock = Callable[[], dt.datetime]


def utc() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@dataclass(frozen=True)
class Base:
    """The database, the clock (tests pass a fake one) and the audit head's anchor file
    (None where a file cannot be shared, e.g. several hosts on PostgreSQL)."""

    db: Database
    anchor: Path | None
    clock: Clock = utc

    def now(self) -> str:
        return self.clock().astimezone(dt.UTC).isoformat(timespec="microseconds")

    def write(self, fn: Callable[[Tx], T]) -> T:
        """``fn(tx)`` in one write transaction (retried whole on a conflict)."""
        return self.db.transaction(fn)

    def read(self, fn: Callable[[Tx], T]) -> T:
        """``fn(tx)`` in one read transaction."""
        return self.db.transaction(fn, write=False)

    def audit_in(
        self,
        tx: Tx,
        *,
        actor: str,
        action: str,
        project: str | None = None,
        detail: str | None = None,
    ) -> int:
        """Append an applied steward action to the audit chain inside ``tx``; its seq."""
        record = AuditRecord.now(
            action=action, verdict="applied", actor=actor, time=self.now(), project=project,
            detail=detail,
        )  # fmt: skip
        return _audit.append(tx, record, self.anchor)


class Repository:
    """What a repository (``Accounts``, ``Projects``, ``Reviews``, ``Ledger``,
    ``AuditLog``) is built on: the store's one ``Base``."""

    def __init__(self, base: Base) -> None:
        self._b = base
