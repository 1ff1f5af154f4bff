"""The key-rotation journal: finishing a rotation that was interrupted.

A rotation (``pseudonymize.rotate``) records its two swaps (warehouse, key) in
``ENCLAVE_HOME/rotation.json`` before making them; :func:`recover`, called by every ingest
and rotation, makes whatever swap is left, so the warehouse and the key never disagree for
long.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from enclave.settings import Settings

__all__ = ["journal_path", "recover"]


def journal_path(settings: Settings) -> Path:
    """Where a rotation in progress is journalled."""
    return settings.home / "rotation.json"


def recover(settings: Settings) -> None:
    """Finish a rotation that was interrupted after its new warehouse was complete."""
    path = journal_path(settings)
    if not path.is_file():
        return
    data = json.loads(path.read_text(encoding="utf-8"))
    staged_wh, target = Path(data["staged_warehouse"]), Path(data["warehouse"])
    new_key = Path(data["new_key"])
    if staged_wh.exists():
        os.replace(staged_wh, target)
    if new_key.exists():
        os.replace(new_key, settings.key_path)
    staged_wh.with_name(staged_wh.name + ".lock").unlink(missing_ok=True)
    path.unlink()
