"""Key rotation: re-tokenise the warehouse under a new master key.

HMAC tokens are one-way, so a warehouse cannot be re-keyed from its own content. The
enclave instead re-ingests the original extracts, found through the manifests of the
current key (paths and SHA-256 hashes, verified before use), under a fresh key into a
new warehouse, then swaps in the new warehouse and the new key. The old key file is kept
as ``master.key.<old key id>.retired`` until the steward deletes it.

The two swaps (warehouse, key) are journalled in ``ENCLAVE_HOME/rotation.json`` first;
if a rotation is killed between them, ``pseudonymize.journal.recover`` (called by every
ingest and rotation) finishes it, so the warehouse and the key never disagree for long.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path

from enclave.errors import IngestError
from enclave.settings import Settings
from pseudonymize.ingest import hash_files, ingest_with
from pseudonymize.journal import journal_path, recover
from pseudonymize.keys import Keyring, load_keyring, new_master_key, write_key_file
from pseudonymize.load import warehouse_lock
from pseudonymize.manifest import Manifest, load_manifests

__all__ = ["Rotation", "recover", "rotate_key"]


@dataclass(frozen=True)
class Rotation:
    """The outcome of a rotation (key ids only, never keys)."""

    old_key_id: str
    new_key_id: str
    extracts: int
    archived_key: str
    tables: dict[str, int]

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


def _extracts(settings: Settings, ring: Keyring, warehouse: Path) -> list[Manifest]:
    """The distinct extracts loaded into ``warehouse`` under the current key, in order."""
    seen: set[tuple[str, ...]] = set()
    out = []
    for m in load_manifests(settings.home / "manifests"):
        if m.key_id != ring.key_id or Path(m.warehouse) != warehouse:
            continue
        ident = (m.format, m.source, *sorted(f.sha256 for f in m.files))
        if ident not in seen:
            seen.add(ident)
            out.append(m)
    return out


def _verify(manifest: Manifest) -> None:
    src = Path(manifest.source)
    paths = [src / f.name for f in manifest.files]
    if not all(p.is_file() for p in paths):
        raise IngestError(
            f"Cannot rotate: extract {src} is no longer complete; restore it and retry."
        )
    digests = hash_files(paths)
    if any(digests[f.name] != f.sha256 for f in manifest.files):
        raise IngestError(f"Cannot rotate: extract {src} changed since it was loaded; restore it.")


def rotate_key(settings: Settings, warehouse: Path | None = None) -> Rotation:
    """Re-ingest every extract under a new key and swap warehouse and key atomically."""
    if settings.master_key_hex is not None:
        raise IngestError("The key is given by ENCLAVE_MASTER_KEY; unset it to rotate a key file.")
    recover(settings)
    target = (warehouse or settings.warehouse_path).absolute()
    old = load_keyring(settings, create=False)
    extracts = _extracts(settings, old, target)
    if not extracts:
        raise IngestError("No ingest manifests for this warehouse and key; nothing to rotate.")
    for m in extracts:
        _verify(m)
    new = Keyring(new_master_key())
    staged = target.with_name(f".{target.name}.rotate-{new.key_id}")
    staged.unlink(missing_ok=True)
    tables: dict[str, int] = {}
    for i, m in enumerate(extracts):
        result = ingest_with(
            Path(m.source),
            m.format,
            settings,
            new,
            staged,
            fresh=(i == 0),
            rotation_of=m.ingest_id,
            record_as=target,
        )
        tables = result.tables
    new_key = settings.key_path.with_name(settings.key_path.name + ".new")
    new_key.unlink(missing_ok=True)
    write_key_file(new_key, new.master)
    archived = settings.key_path.with_name(f"{settings.key_path.name}.{old.key_id}.retired")
    if not archived.exists():
        os.link(settings.key_path, archived)
    journal = {"staged_warehouse": str(staged), "warehouse": str(target), "new_key": str(new_key)}
    journal_path(settings).write_text(json.dumps(journal), encoding="utf-8")
    with warehouse_lock(target):
        recover(settings)
    return Rotation(old.key_id, new.key_id, len(extracts), str(archived), tables)
