"""Loading an extract: ingest, the manifest kept in the metadata store, the Parquet export.

``enclave ingest`` and ``enclave demo`` both load through :func:`load_extract`. The
manifest holds counts, hashes and the key id, never a key or a value.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from enclave.settings import Settings

__all__ = ["load_extract"]


def load_extract(
    settings: Settings,
    source: Path,
    fmt: str,
    *,
    warehouse: Path | None = None,
    parquet: bool = False,
    progress: bool = False,
) -> dict[str, Any]:
    """Ingest the extract at ``source`` and record its manifest (audited); its JSON.

    Args:
        warehouse: another warehouse file than ``settings.warehouse_path``.
        parquet: also export the warehouse to Parquet for the Spark engine (the
            manifest's ``parquet`` entry names the folder; the stored manifest has none).
        progress: show the ingest's steps.
    """
    from enclave.engines.parquet import export_parquet
    from enclave.store import open_store
    from pseudonymize.ingest import ingest

    manifest = ingest(source, fmt, settings, warehouse=warehouse, progress=progress).to_dict()
    with open_store(settings) as store:
        store.audit_log.record_manifest(manifest)
    if parquet:
        return {**manifest, "parquet": str(export_parquet(settings, source=warehouse))}
    return manifest
