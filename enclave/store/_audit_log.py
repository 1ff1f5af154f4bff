"""The audit repository: the hash-chained log and the ingest manifests it orders.

The chain itself (canonical form, hashes, the head's anchor, verification) is in
``_audit``, as functions of one open transaction.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from functools import partial
from typing import Any

from enclave.errors import UserError
from enclave.store import _audit
from enclave.store._base import Repository
from enclave.store._db import Tx
from enclave.store._types import AuditRecord, AuditVerification

__all__ = ["AuditLog"]


class AuditLog(Repository):
    """Append, verify and export the audit chain; keep ingest manifests (audited)."""

    def append(self, record: AuditRecord) -> int:
        """Append one record to the chain; return its sequence number."""
        return self._b.write(lambda tx: _audit.append(tx, record, self._b.anchor))

    def verify(self) -> AuditVerification:
        return self._b.read(lambda tx: _audit.verify(tx, self._b.anchor))

    def export(self) -> Iterator[dict[str, Any]]:
        """Every record in order, with ``seq``, ``prev_hash`` and ``hash``.

        Read page by page, each page in its own short read transaction; the log only
        grows at its end, so the pages join up (records appended meanwhile are included).
        """
        after = 0
        while True:
            page = self._b.read(partial(_audit.export_page, after=after))
            yield from page
            if not page:
                return
            after = page[-1]["seq"]

    def record_manifest(self, manifest: dict[str, Any]) -> None:
        """Keep an ingest manifest (counts and reasons only, never values); audited."""
        try:
            body = json.dumps(manifest, sort_keys=True, default=str)
        except (TypeError, ValueError) as exc:
            raise UserError(f"The manifest is not JSON ({type(exc).__name__}).") from None
        mid = uuid.uuid4().hex

        def run(tx: Tx) -> None:
            seq = self._b.audit_in(tx, actor="ingest", action="ingest", detail=f"manifest {mid}")
            tx.execute("manifest_insert", (mid, seq, self._b.now(), body))

        self._b.write(run)

    def manifests(self) -> list[dict[str, Any]]:
        rows = self._b.read(lambda tx: tx.all("manifest_all"))
        return [json.loads(r[0]) for r in rows]
