"""``enclave ingest`` and ``enclave key show|rotate``: the steward's load and key verbs."""

from __future__ import annotations

import dataclasses
import sys
from pathlib import Path
from typing import Annotated

import typer

from enclave.cli._common import AsJson, answer, cli_errors, emit, settings
from enclave.errors import IngestError
from enclave.settings import Settings

__all__ = ["register"]

KeyFile = Annotated[Path | None, typer.Option(help="Master key file (64 hex).")]


def _with_key_file(s: Settings, key_file: Path | None) -> Settings:
    if key_file is None:
        return s
    from pseudonymize.keys import read_key_file

    return dataclasses.replace(s, master_key_hex=read_key_file(key_file).hex())


def _summary(manifest: dict[str, object]) -> str:
    files = manifest["files"]
    assert isinstance(files, dict)
    lines = [
        f"ingest {manifest['ingest_id']} ({manifest['format']}) key id {manifest['key_id']}",
        f"  warehouse  {manifest['warehouse']}",
        f"  quarantine {manifest['quarantine'] or '-'}",
    ]
    for name, f in files.items():
        reasons = ", ".join(f"{k}={v}" for k, v in f["reasons"].items()) or "-"
        lines.append(
            f"  {name:<22} rows_read={f['rows_read']} rows_loaded={f['rows_loaded']} "
            f"rows_quarantined={f['rows_quarantined']} rows_new={f['rows_new']} ({reasons})"
        )
    lines.append(f"  tables {manifest['tables']}  in {manifest['duration_s']} s")
    return "\n".join(lines)


def ingest_cmd(
    source: Annotated[Path, typer.Argument(help="Folder holding the extract's CSV files.")],
    fmt: Annotated[str, typer.Option("--format", help="Extract format: nhi or synthea.")],
    warehouse: Annotated[Path | None, typer.Option(help="Warehouse file to load.")] = None,
    key_file: KeyFile = None,
    engine: Annotated[
        str, typer.Option(help="duckdb, or spark: also export the warehouse to Parquet.")
    ] = "duckdb",
    as_json: Annotated[bool, typer.Option("--json", help="Print the manifest as JSON.")] = False,
) -> None:
    """Pseudonymize an identified extract and load it into the warehouse."""
    with cli_errors(as_json):
        from enclave.service import load_extract
        from pseudonymize.adapters import FORMATS

        if fmt not in FORMATS:
            raise IngestError(f"Unknown --format; use one of: {', '.join(FORMATS)}.")
        if engine not in ("duckdb", "spark"):
            raise IngestError("Unknown --engine; use duckdb or spark.")
        s = _with_key_file(settings(), key_file)
        show = not as_json and sys.stderr.isatty()
        # the Spark engine reads the Parquet export
        out = load_extract(
            s, source, fmt, warehouse=warehouse, parquet=engine == "spark", progress=show
        )
        if as_json:
            emit(out)
        else:
            typer.echo(_summary(out))
            if "parquet" in out:
                typer.echo(f"  parquet export {out['parquet']}")


def key_show(key_file: KeyFile = None, as_json: AsJson = False) -> None:
    """Print the key id (a fingerprint; the key itself is never printed)."""
    with cli_errors(as_json):
        from pseudonymize.keys import load_keyring

        s = _with_key_file(settings(), key_file)
        ring = load_keyring(s, create=False)
        where = "given" if s.master_key_hex else str(s.key_path)
        answer({"key_id": ring.key_id, "key": where}, as_json, f"key id {ring.key_id} ({where})")


def key_rotate(
    warehouse: Annotated[Path | None, typer.Option(help="Warehouse file.")] = None,
    as_json: AsJson = False,
) -> None:
    """Re-tokenise the warehouse under a new master key (re-ingests the extracts)."""
    with cli_errors(as_json):
        from pseudonymize.rotate import rotate_key

        result = rotate_key(settings(), warehouse=warehouse)
        text = (
            f"rotated key {result.old_key_id} -> {result.new_key_id} "
            f"({result.extracts} extract(s) re-ingested); old key kept at "
            f"{result.archived_key} until you delete it"
        )
        answer(result.to_dict(), as_json, text)


def register(app: typer.Typer) -> None:
    app.command("ingest")(ingest_cmd)
    key = typer.Typer(help="Show or rotate the pseudonymization key.", no_args_is_help=True)
    key.command("show")(key_show)
    key.command("rotate")(key_rotate)
    app.add_typer(key, name="key")
