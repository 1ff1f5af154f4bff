"""``ingest``: identified extract in, de-identified rows appended to the warehouse.

read → validate → quarantine bad rows → generalise → keyed tokens (all in one in-memory
DuckDB staging database) → atomic load → quarantine Parquet + manifest JSON.
Nothing is written to the warehouse, the quarantine or the manifests before every
check has passed; a user error leaves everything as it was.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

from enclave.errors import IngestError
from enclave.settings import Settings
from pseudonymize.adapters import ADAPTERS, FORMATS, source_files
from pseudonymize.adapters._context import StageContext
from pseudonymize.adapters._stage import StageResult
from pseudonymize.journal import recover
from pseudonymize.keys import DOMAINS, Keyring, load_keyring
from pseudonymize.load import building, check_warehouse_path, spill_dir, warehouse_lock
from pseudonymize.manifest import FileReport, Manifest
from pseudonymize.progress import steps
from pseudonymize.quarantine import write_quarantine
from pseudonymize.staging import staging
from pseudonymize.tokens import sql_params

__all__ = ["hash_files", "ingest", "ingest_with", "new_ingest_id"]


def new_ingest_id(now: dt.datetime | None = None) -> str:
    """A sortable, unique id: UTC time plus a random suffix."""
    now = now or dt.datetime.now(dt.UTC)
    return now.strftime("%Y%m%dT%H%M%S%fZ") + "-" + secrets.token_hex(3)


def hash_files(paths: list[Path]) -> dict[str, str]:
    """SHA-256 of each file (name → hex)."""
    out = {}
    for path in paths:
        digest = hashlib.sha256()
        with path.open("rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 22), b""):
                digest.update(chunk)
        out[path.name] = digest.hexdigest()
    return out


def _context(
    settings: Settings,
    ring: Keyring,
    fmt: str,
    step: Callable[[str], None],
    add: Callable[..., int],
) -> StageContext:
    from enclave.policy import load_dataset_policy

    policy = load_dataset_policy(settings.policies_dir / "dataset.toml")

    def values(name: str) -> tuple[str, ...]:
        ks = policy.key_set(name)
        return tuple(str(v) for v in ks.values) if ks else ()

    return StageContext(
        params=sql_params(ring, DOMAINS),
        regions=values("regions") if fmt == "nhi" else (),
        insurance_categories=values("insurance_categories") if fmt == "nhi" else (),
        provider_types=values("provider_types") if fmt == "nhi" else (),
        step=step,
        add=add,
    )


def _check_source(source: Path, fmt: str) -> None:
    if fmt not in FORMATS:
        raise IngestError(f"Unknown --format; use one of: {', '.join(FORMATS)}.")
    if not source.exists():
        raise IngestError(f"Extract {source} does not exist; check the SOURCE path.")
    if not source.is_dir():
        raise IngestError(f"Extract {source} is not a folder; give the folder of CSV files.")


def ingest_with(
    source: Path,
    fmt: str,
    settings: Settings,
    ring: Keyring,
    warehouse: Path,
    progress: bool = False,
    fresh: bool = False,
    rotation_of: str | None = None,
    record_as: Path | None = None,
) -> Manifest:
    """:func:`ingest` with an explicit keyring and target (used by key rotation).

    ``record_as`` is the warehouse path written in the manifest (rotation builds in a
    staged file that later replaces the real one).
    """
    started = dt.datetime.now(dt.UTC)
    t0 = time.perf_counter()
    ingest_id = new_ingest_id(started)
    source = source.absolute()
    _check_source(source, fmt)
    check_warehouse_path(warehouse)
    files = source_files(fmt, source)
    settings.ensure_home()
    with (
        steps(progress, total=9) as step,
        ThreadPoolExecutor(1) as pool,
        warehouse_lock(warehouse),
        staging(settings, spill_dir(warehouse, ingest_id)) as con,
    ):
        hashes: Future[dict[str, str]] = pool.submit(hash_files, files)
        with building(con, warehouse, ingest_id, fresh=fresh) as build:
            ctx = _context(settings, ring, fmt, step, build.add)
            staged = _require_claims(ADAPTERS[fmt](con, source, ctx))
            added, totals = build.added, build.totals()
        step("loaded warehouse")
        qpath = write_quarantine(con, settings.quarantine_dir, ingest_id)
        digests = hashes.result()
    reports = _reports(staged, digests, added)
    manifest = Manifest(
        ingest_id=ingest_id,
        format=fmt,
        source=str(source),
        files=reports,
        key_id=ring.key_id,
        warehouse=str((record_as or warehouse).absolute()),
        quarantine=str(qpath) if qpath else None,
        reference_date=staged.reference_date,
        started=started.isoformat(),
        duration_s=time.perf_counter() - t0,
        tables=totals,
        notes={**staged.notes, "extra_sha256": {k: v for k, v in digests.items()
                                                if k not in {f.name for f in reports}}},
        rotation_of=rotation_of,
    )  # fmt: skip
    manifest.write(settings.home / "manifests")
    return manifest


def _require_claims(staged: StageResult) -> StageResult:
    if not any(f.rows_loaded for f in staged.files if f.table == "claims"):
        raise IngestError(
            "The extract has no valid claim rows; nothing was loaded. "
            "Check the files against the documented format (docs/ingest.md)."
        )
    return staged


def _reports(
    staged: StageResult, digests: dict[str, str], added: dict[str, int]
) -> tuple[FileReport, ...]:
    """One report per source file: its hash and its rows read, loaded, quarantined, new."""
    return tuple(
        FileReport(
            f.name, f.table, digests.get(f.name, ""), f.rows_read, f.rows_loaded,
            f.rows_quarantined, added.get(f.table, 0) if f.table else 0, f.reasons, f.role,
        )
        for f in staged.files
    )  # fmt: skip


def ingest(
    source: Path,
    fmt: str,
    settings: Settings,
    warehouse: Path | None = None,
    progress: bool = False,
) -> Manifest:
    """Ingest the extract at ``source`` (``fmt`` = ``nhi`` or ``synthea``).

    The master key comes from ``settings`` (created on first use); the target is
    ``warehouse`` or ``settings.warehouse_path``. Raises ``IngestError`` on bad input,
    with nothing changed.
    """
    if fmt not in FORMATS:
        raise IngestError(f"Unknown --format; use one of: {', '.join(FORMATS)}.")
    _check_source(source, fmt)
    target = (warehouse or settings.warehouse_path).absolute()
    check_warehouse_path(target)
    recover(settings)
    ring = load_keyring(settings)
    return ingest_with(source, fmt, settings, ring, target, progress=progress)
