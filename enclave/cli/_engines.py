"""``enclave export parquet`` and ``enclave engines check``: the scale-out verbs.

``export parquet`` writes the warehouse as Parquet partitioned by visit month (the layout
the Spark engine reads; DuckDB reads it too). ``engines check`` opens each engine the
way the gateway does and checks that it sees every canonical table with the row counts
of the export (counts only; never a value).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated, Any

import typer

from enclave.cli._common import cli_errors, emit, settings
from enclave.errors import UserError
from enclave.settings import Settings

__all__ = ["check_engine", "register"]

_ENGINES = ("duckdb", "spark")


def export_cmd(
    out: Annotated[
        Path | None, typer.Option(help="Destination folder (default: ENCLAVE_HOME/parquet).")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the export manifest.")] = False,
) -> None:
    """Export the warehouse to Parquet, claims partitioned by visit month."""
    with cli_errors(as_json):
        from enclave.engines.parquet import export_parquet, read_manifest

        root = export_parquet(settings(), out)
        manifest = read_manifest(root)
        if as_json:
            emit({"path": str(root), **manifest})
        else:
            rows = ", ".join(f"{t}={n}" for t, n in manifest["rows"].items())
            typer.echo(f"exported to {root} in {manifest['seconds']} s ({rows})")


def _open(name: str, s: Settings) -> Any:
    from dataclasses import replace

    from enclave.service import open_engine

    return open_engine(replace(s, engine=name))


def check_engine(name: str, s: Settings) -> dict[str, Any]:
    """Open engine ``name``; count each canonical table through it; compare with the export."""
    from enclave.schema import TABLES

    if name not in _ENGINES:
        raise UserError(f"Unknown engine {name!r}; use one of: {', '.join(_ENGINES)}.")
    started = time.perf_counter()
    engine = _open(name, s)
    opened = time.perf_counter() - started
    try:
        counts = {t: int(engine.execute(f"SELECT count(*) AS n FROM {t}")[1][0][0]) for t in TABLES}
    finally:
        engine.close()
    report: dict[str, Any] = {
        "engine": name,
        "ok": True,
        "open_s": round(opened, 3),
        "total_s": round(time.perf_counter() - started, 3),
        "rows": counts,
    }
    if name == "spark":
        from enclave.engines.parquet import read_manifest

        report["master"] = s.spark_master
        report["ok"] = read_manifest(s.parquet_dir)["rows"] == counts
    return report


def check_cmd(
    engine: Annotated[
        list[str] | None, typer.Option("--engine", help="duckdb and/or spark (default both).")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Check that each engine opens the warehouse and sees every table."""
    with cli_errors(as_json):
        s = settings()
        reports = [check_engine(name, s) for name in (engine or list(_ENGINES))]
        if as_json:
            emit({"engines": reports, "ok": all(r["ok"] for r in reports)})
        else:
            for r in reports:
                status = "ok" if r["ok"] else "MISMATCH with the export"
                typer.echo(f"{r['engine']:<7} {status}  opened in {r['open_s']} s, {r['rows']}")
        if not all(r["ok"] for r in reports):
            raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    export = typer.Typer(help="Export the warehouse for other engines.", no_args_is_help=True)
    export.command("parquet")(export_cmd)
    app.add_typer(export, name="export")
    engines = typer.Typer(help="Check the query engines.", no_args_is_help=True)
    engines.command("check")(check_cmd)
    app.add_typer(engines, name="engines")
