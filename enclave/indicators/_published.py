"""Indicator releases and their publication, keyed by (indicator, period).

A released week is recorded once (``INSERT … ON CONFLICT DO NOTHING``), so re-running the
scheduler for a week already released changes nothing. ``published`` releases are what
the public monitor and ``GET /v1/releases/public`` read; ``held`` ones wait for a steward.
Only noisy, already-released values are kept here: this file is public data.

The records live in their own SQLite file next to the metadata store
(``ENCLAVE_HOME/published.sqlite``, WAL), so the public side never needs the store.

>>> import tempfile
>>> with tempfile.TemporaryDirectory() as d:
...     pub = Published(Path(d) / "p.sqlite")
...     rec = PublishedRelease("ili", "2024-01-01", "held", "r1", 1.0, "h", "t", None,
...                            ("region", "value"), (("Taipei", 3.0),))
...     first, again = pub.record(rec), pub.record(rec)
...     _ = pub.publish("ili", "2024-01-01", when="t2")
...     (first, again, [r.status for r in pub.releases(status="published")])
(True, False, ['published'])
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

__all__ = ["Published", "PublishedRelease", "published_path"]

_DDL = """CREATE TABLE IF NOT EXISTS indicator_releases (
    indicator TEXT NOT NULL,
    period TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('held', 'published')),
    release_id TEXT NOT NULL,
    epsilon DOUBLE PRECISION NOT NULL,
    definition TEXT NOT NULL,
    released TEXT NOT NULL,
    published TEXT,
    body TEXT NOT NULL,
    PRIMARY KEY (indicator, period))"""

_COLS = "indicator, period, status, release_id, epsilon, definition, released, published, body"


def published_path(home: Path) -> Path:
    """Where an enclave home keeps its indicator releases."""
    return home / "published.sqlite"


@dataclass(frozen=True)
class PublishedRelease:
    """One indicator's release for one week: the gateway's noisy rows, as released."""

    indicator: str
    period: str
    status: Literal["held", "published"]
    release_id: str
    epsilon: float
    definition: str
    released: str
    published: str | None
    columns: tuple[str, ...]
    rows: tuple[tuple[Any, ...], ...]
    #: The year's privacy terms the release was made under (k, ε per year, weeks left…).
    accounting: dict[str, Any] | None = None

    def to_json(self) -> dict[str, Any]:
        out = {k: getattr(self, k) for k in _COLS.split(", ") if k != "body"}
        out.update(columns=list(self.columns), rows=[list(r) for r in self.rows])
        if self.accounting is not None:
            out["accounting"] = dict(self.accounting)
        return out


def _from_row(row: tuple[Any, ...]) -> PublishedRelease:
    body = json.loads(row[8])
    return PublishedRelease(
        indicator=row[0],
        period=row[1],
        status=row[2],
        release_id=row[3],
        epsilon=float(row[4]),
        definition=row[5],
        released=row[6],
        published=row[7],
        columns=tuple(body["columns"]),
        rows=tuple(tuple(r) for r in body["rows"]),
        accounting=body.get("accounting"),
    )


class Published:
    """The (indicator, period) → release table; every method is one transaction."""

    def __init__(self, path: Path) -> None:
        self.path = path
        with self._tx(write=True) as cur:
            cur.execute(_DDL)

    @contextmanager
    def _tx(self, *, write: bool = False) -> Iterator[sqlite3.Cursor]:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(self.path, timeout=30.0, isolation_level=None)
        try:
            conn.execute("PRAGMA journal_mode = WAL")
            # The charge for a release is already durable in the metadata store before the
            # release exists; a week lost here by a power cut is released again from the
            # gateway's cache at no cost. NORMAL keeps WAL commits cheap.
            conn.execute("PRAGMA synchronous = NORMAL")
            conn.execute("BEGIN IMMEDIATE" if write else "BEGIN")
            cur = conn.cursor()
            try:
                yield cur
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")
        finally:
            conn.close()

    def record(self, rel: PublishedRelease) -> bool:
        """Keep a release; False (and nothing changed) if that week was already kept."""
        kept: dict[str, Any] = {"columns": list(rel.columns), "rows": [list(r) for r in rel.rows]}
        if rel.accounting is not None:
            kept["accounting"] = dict(rel.accounting)
        body = json.dumps(kept)
        with self._tx(write=True) as cur:
            cur.execute(
                f"INSERT INTO indicator_releases ({_COLS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
                " ON CONFLICT (indicator, period) DO NOTHING",
                (
                    rel.indicator,
                    rel.period,
                    rel.status,
                    rel.release_id,
                    rel.epsilon,
                    rel.definition,
                    rel.released,
                    rel.published,
                    body,
                ),
            )
            return cur.rowcount == 1

    def publish(self, indicator: str, period: str, *, when: str) -> bool:
        """Publish a held release; False if it is already published or was never released."""
        with self._tx(write=True) as cur:
            cur.execute(
                "UPDATE indicator_releases SET status = 'published', published = ?"
                " WHERE indicator = ? AND period = ? AND status = 'held'",
                (when, indicator, period),
            )
            return cur.rowcount == 1

    def get(self, indicator: str, period: str) -> PublishedRelease | None:
        with self._tx() as cur:
            cur.execute(
                f"SELECT {_COLS} FROM indicator_releases WHERE indicator = ? AND period = ?",
                (indicator, period),
            )
            row = cur.fetchone()
        return None if row is None else _from_row(tuple(row))

    def releases(
        self, *, status: str | None = None, indicator: str | None = None
    ) -> list[PublishedRelease]:
        """Releases ordered by indicator and period, optionally filtered."""
        where, params = [], []
        if status is not None:
            where.append("status = ?")
            params.append(status)
        if indicator is not None:
            where.append("indicator = ?")
            params.append(indicator)
        clause = f" WHERE {' AND '.join(where)}" if where else ""
        with self._tx() as cur:
            cur.execute(
                f"SELECT {_COLS} FROM indicator_releases{clause} ORDER BY indicator, period",
                params,
            )
            rows = cur.fetchall()
        return [_from_row(tuple(r)) for r in rows]
