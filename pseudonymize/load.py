"""Atomic, idempotent load of staged rows into the warehouse file.

The new warehouse is built in a temp file next to the target: a copy of the current
warehouse (when it holds rows; else a new file) to which adapters append their rows
table by table as soon as each is checked (so staging can be freed early); it is
checkpointed, fsynced and only then renamed over the target with ``os.replace``. A crash or a kill at any moment
leaves the previous warehouse untouched; leftover temp files are removed by the next
load (which holds an exclusive lock on ``<warehouse>.lock``, so two loads never race).

Idempotence: a person, provider or claim whose token is already in the warehouse is not
added again; diagnoses and prescriptions are added only with their (new) claim. So
loading the same extract twice adds nothing, and a later extract appends.
"""

from __future__ import annotations

import fcntl
import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import duckdb

from enclave.errors import IngestError
from enclave.schema import TABLES
from pseudonymize.tokens import TOKEN_CHARS

__all__ = ["Build", "building", "check_warehouse_path", "spill_dir", "warehouse_lock"]

_TMP_MARK = ".ingest-"


def check_warehouse_path(path: Path) -> None:
    """Refuse a target that cannot be a warehouse file."""
    if path.is_dir():
        raise IngestError(f"Warehouse path {path} is a directory; give a file path (--warehouse).")
    if path.parent.exists() and not path.parent.is_dir():
        raise IngestError(f"The parent of {path} is not a directory; choose another --warehouse.")


def spill_dir(target: Path, tag: str) -> Path:
    """A private folder next to ``target`` for DuckDB's spill files during one load."""
    return target.with_name(f".{target.name}{_TMP_MARK}spill-{tag}")


def _temp_files(target: Path) -> list[Path]:
    return list(target.parent.glob(f".{target.name}{_TMP_MARK}*"))


@contextmanager
def warehouse_lock(target: Path) -> Iterator[None]:
    """Hold an exclusive lock for ``target``; clean temp files left by killed loads."""
    try:
        target.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        fh = open(target.with_name(target.name + ".lock"), "a+b")
    except OSError:
        raise IngestError(f"Cannot write next to {target}; check --warehouse.") from None
    with fh:
        try:
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            raise IngestError(
                "Another ingest or key rotation is writing this warehouse; wait and retry."
            ) from None
        for stale in _temp_files(target):
            if stale.is_dir():
                shutil.rmtree(stale, ignore_errors=True)
            else:
                stale.unlink(missing_ok=True)
        try:
            yield
        finally:
            fcntl.flock(fh.fileno(), fcntl.LOCK_UN)


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


#: Token columns are stored uncompressed: random text barely compresses, and trying to
#: (DuckDB's dictionary + FSST) cost ~5x the CPU of writing them plain.
_TOKEN_COLUMNS = frozenset({"person_id", "provider_id", "claim_id"})


def _column(col: str, typ: str) -> str:
    plain = " USING COMPRESSION uncompressed" if col in _TOKEN_COLUMNS else ""
    return f"{col} {typ}{plain}"


def _ddl(schema: str) -> list[str]:
    return [
        f"CREATE TABLE IF NOT EXISTS {schema}.{name} ("
        + ", ".join(_column(col, typ) for col, typ in cols)
        + ")"
        for name, cols in TABLES.items()
    ]


def _write_live_rows(con: duckdb.DuckDBPyConnection, clean: Path) -> None:
    """Write the live rows of ``wh`` into a brand-new file ``clean`` (attached as ``pub``).

    The file a build works in also held the staging of identified rows: DuckDB frees the
    blocks of dropped or rewritten data but does not wipe them, so under memory pressure
    raw identifiers can sit in free blocks of that file. The published warehouse is
    therefore never that file: a fresh file receives only the de-identified tables' live
    rows, so no freed block of it ever held anything else.
    """
    con.execute("ATTACH $path AS pub", {"path": str(clean)})
    try:
        for stmt in _ddl("pub"):
            con.execute(stmt)
        for name in TABLES:
            con.execute(f"INSERT INTO pub.{name} SELECT * FROM wh.{name}")
        con.execute("CHECKPOINT pub")
    finally:
        con.execute("DETACH pub")


def _check_token_format(con: duckdb.DuckDBPyConnection, schema: str) -> None:
    """Refuse to append to a warehouse whose tokens have another length (older format)."""
    row = con.execute(f"SELECT max(length(person_id)) FROM {schema}.persons").fetchone()
    if row and row[0] is not None and int(row[0]) != TOKEN_CHARS:
        raise IngestError(
            "The warehouse holds tokens in an older format, so new rows would not link; "
            "rebuild it from its extracts with `enclave key rotate`."
        )


def _count(con: duckdb.DuckDBPyConnection, table: str) -> int:
    row = con.execute(f"SELECT count(*) FROM {table}").fetchone()
    return int(row[0]) if row else 0


_KEYS = {"persons": "person_id", "providers": "provider_id", "claims": "claim_id"}


class Build:
    """Appends rows to the warehouse being built (attached as ``wh``)."""

    def __init__(self, con: duckdb.DuckDBPyConnection, existing: bool) -> None:
        self._con = con
        self.existing = existing
        self.added: dict[str, int] = dict.fromkeys(TABLES, 0)

    def add(self, table: str, select: str, params: dict[str, Any] | None = None) -> int:
        """Append the rows of ``select`` (the table's columns, in order) to ``wh.<table>``.

        Into a warehouse that already holds rows, a person, provider or claim whose
        token is present is not added again, and children come only with a new claim.
        """
        con, src = self._con, f"({select}) o"
        if self.existing and table == "claims":
            con.execute(
                f"CREATE OR REPLACE TEMP TABLE _new_claims AS SELECT * FROM {src} WHERE NOT "
                "EXISTS (SELECT 1 FROM wh.claims w WHERE w.claim_id = o.claim_id)",
                params or {},
            )
            src, params = "_new_claims", None
        elif self.existing and table in _KEYS:
            key = _KEYS[table]
            src += f" WHERE NOT EXISTS (SELECT 1 FROM wh.{table} w WHERE w.{key} = o.{key})"
        elif self.existing:
            src += " WHERE claim_id IN (SELECT claim_id FROM _new_claims)"
        row = con.execute(f"INSERT INTO wh.{table} SELECT * FROM {src}", params or {}).fetchone()
        self.added[table] += int(row[0]) if row else 0
        return self.added[table]

    def totals(self) -> dict[str, int]:
        return {t: _count(self._con, f"wh.{t}") for t in TABLES}


def _holds_rows(con: duckdb.DuckDBPyConnection, target: Path) -> bool:
    if not target.exists():
        return False
    con.execute("ATTACH $path AS cur (READ_ONLY)", {"path": str(target)})
    try:
        names = {
            r[0]
            for r in con.execute(
                "SELECT table_name FROM duckdb_tables() WHERE database_name = 'cur'"
            ).fetchall()
        }
        return any(_count(con, f"cur.{t}") for t in TABLES if t in names)
    finally:
        con.execute("DETACH cur")


def _build_error(target: Path) -> IngestError:
    return IngestError(
        f"Cannot build the warehouse next to {target}; check it is a DuckDB file "
        "made by enclave ingest and that the disk has room."
    )


def _open(con: duckdb.DuckDBPyConnection, target: Path, tmp: Path, fresh: bool) -> bool:
    """Start ``tmp`` (a copy of ``target`` if that holds rows) attached as ``wh``."""
    existing = not fresh and _holds_rows(con, target)
    if existing:
        shutil.copyfile(target, tmp)
        wal = target.with_name(target.name + ".wal")
        if wal.exists():
            shutil.copyfile(wal, tmp.with_name(tmp.name + ".wal"))
    con.execute("ATTACH $path AS wh", {"path": str(tmp)})
    for stmt in _ddl("wh"):
        con.execute(stmt)
    return existing


@contextmanager
def building(
    con: duckdb.DuckDBPyConnection, target: Path, tag: str, fresh: bool = False
) -> Iterator[Build]:
    """Build ``target`` anew (its current rows plus what is added), then swap it in.

    Call inside :func:`warehouse_lock`. The new file is a temp file next to ``target``:
    a copy of the current warehouse when that holds rows (unless ``fresh``, used by key
    rotation), else a new file. When the body returns, its live rows are written into a
    fresh file (``_write_live_rows``: no freed block of the published file ever held
    staged identified rows), which is fsynced and renamed over ``target``; on any error
    both are removed and ``target`` is untouched.
    """
    tmp = target.with_name(f".{target.name}{_TMP_MARK}{tag}")
    clean = target.with_name(f".{target.name}{_TMP_MARK}{tag}.live")
    attached = False
    try:
        try:
            existing = _open(con, target, tmp, fresh)
            attached = True
        except duckdb.Error:
            raise _build_error(target) from None
        if existing:
            _check_token_format(con, "wh")
        yield Build(con, existing)
        try:
            _write_live_rows(con, clean)
            con.execute("DETACH wh")
            attached = False
        except duckdb.Error:
            raise _build_error(target) from None
        _fsync(clean)
        os.replace(clean, target)
        target.with_name(target.name + ".wal").unlink(missing_ok=True)
        _fsync(target.parent)
    finally:
        if attached:
            try:
                con.execute("DETACH wh")
            except duckdb.Error:
                pass
        for leftover in (tmp, clean):
            leftover.unlink(missing_ok=True)
            leftover.with_name(leftover.name + ".wal").unlink(missing_ok=True)
