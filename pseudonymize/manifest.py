"""The ingest manifest: what was read, loaded and quarantined, under which key id.

It carries counts, hashes, paths and the key id; never a key, never a data value.

>>> f = FileReport("claims.csv", "claims", "ab" * 32, 10, 8, 2, 8, {"negative_amount": 2})
>>> f.to_dict()["rows_read"] == f.rows_loaded + f.rows_quarantined
True
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["FileReport", "Manifest", "load_manifests"]


#: the row counts of a file, and (summed over the data files) of an ingest
_COUNTS = ("rows_read", "rows_loaded", "rows_quarantined")


def _fields(obj: object, *names: str) -> dict[str, Any]:
    return {name: getattr(obj, name) for name in names}


@dataclass(frozen=True)
class FileReport:
    """One source file: its hash and how its rows were used."""

    name: str
    table: str | None
    sha256: str
    rows_read: int
    rows_loaded: int
    rows_quarantined: int
    rows_new: int
    reasons: dict[str, int] = field(default_factory=dict)
    role: str = "rows"

    def to_dict(self) -> dict[str, Any]:
        return {
            "file": self.name,
            **_fields(self, "table", "role", "sha256", *_COUNTS, "rows_new"),
            "reasons": dict(sorted(self.reasons.items())),
        }


@dataclass(frozen=True)
class Manifest:
    """One ingest. ``rows_loaded`` counts valid rows (already present or new);
    ``rows_new`` counts the rows this ingest added to the warehouse."""

    ingest_id: str
    format: str
    source: str
    files: tuple[FileReport, ...]
    key_id: str
    warehouse: str
    quarantine: str | None
    reference_date: str
    started: str
    duration_s: float
    tables: dict[str, int] = field(default_factory=dict)
    notes: dict[str, Any] = field(default_factory=dict)
    rotation_of: str | None = None

    @property
    def reasons(self) -> dict[str, int]:
        total: dict[str, int] = {}
        for f in self.files:
            for reason, n in f.reasons.items():
                total[reason] = total.get(reason, 0) + n
        return dict(sorted(total.items()))

    def to_dict(self) -> dict[str, Any]:
        where = ("ingest_id", "format", "source", "key_id", "warehouse", "quarantine")
        rows = [f for f in self.files if f.role == "rows"]
        return {
            **_fields(self, *where, "reference_date", "started"),
            "duration_s": round(self.duration_s, 3),
            **{count: sum(getattr(f, count) for f in rows) for count in _COUNTS},
            "quarantine_reasons": self.reasons,
            "files": {f.name: f.to_dict() for f in self.files},
            **_fields(self, "tables", "notes", "rotation_of"),
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Manifest:
        files = tuple(
            FileReport(
                f["file"], f["table"], f["sha256"], f["rows_read"], f["rows_loaded"],
                f["rows_quarantined"], f["rows_new"], dict(f["reasons"]), f.get("role", "rows"),
            )
            for f in data["files"].values()
        )  # fmt: skip
        return cls(
            data["ingest_id"], data["format"], data["source"], files, data["key_id"],
            data["warehouse"], data.get("quarantine"), data["reference_date"], data["started"],
            float(data["duration_s"]), dict(data.get("tables", {})), dict(data.get("notes", {})),
            data.get("rotation_of"),
        )  # fmt: skip

    def write(self, folder: Path) -> Path:
        """Write ``<folder>/<ingest_id>.json`` atomically; returns its path."""
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        path = folder / f"{self.ingest_id}.json"
        tmp = path.with_suffix(".json.tmp")
        tmp.write_text(self.to_json() + "\n", encoding="utf-8")
        os.replace(tmp, path)
        return path


def load_manifests(folder: Path) -> list[Manifest]:
    """Every manifest in ``folder``, oldest first."""
    out = []
    for path in sorted(folder.glob("*.json")) if folder.is_dir() else []:
        try:
            out.append(Manifest.from_dict(json.loads(path.read_text(encoding="utf-8"))))
        except (ValueError, KeyError, TypeError):
            continue
    return sorted(out, key=lambda m: (m.started, m.ingest_id))
