"""``enclave audit verify|export``: check and read the hash-chained audit log.

``verify`` exits 0 when the chain is intact and 3 when it is not: tampering is not
something the caller did wrong (exit 2) nor a bug (exit 1), it is an incident.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Annotated

import typer

from enclave.cli._common import cli_errors, emit
from enclave.cli._connect import Token, Url, connect
from enclave.store import AuditVerification

__all__ = ["TAMPERED_EXIT", "register"]

#: Exit status of ``enclave audit verify`` when the chain is broken.
TAMPERED_EXIT = 3

audit_app = typer.Typer(help="Verify and export the audit log.", no_args_is_help=True)


@audit_app.command("verify")
def verify(
    url: Url = None,
    token: Token = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Walk the audit chain; exit 0 if intact, 3 if a record was edited, deleted,
    reordered or cut off."""
    with cli_errors(as_json):
        result = AuditVerification(**connect(url, token).audit_verify())
        if as_json:
            emit(result.to_json())
        elif result.ok:
            typer.echo(f"Audit chain intact: {result.records} records, head {result.head_seq}.")
        else:
            typer.echo(
                f"AUDIT CHAIN BROKEN ({result.problem}) at record {result.first_bad_seq}: "
                f"{result.message} Keep this store as evidence and tell the security officer.",
                err=True,
            )
    if not result.ok:
        raise typer.Exit(TAMPERED_EXIT)


@audit_app.command("export")
def export(
    out: Annotated[
        Path | None, typer.Option("--out", help="Write JSON lines to this file (mode 600).")
    ] = None,
    url: Url = None,
    token: Token = None,
) -> None:
    """Print every audit record as one JSON object per line, oldest first."""
    with cli_errors(False):
        records = connect(url, token).audit_export()
        lines = [json.dumps(r, sort_keys=True) + "\n" for r in records]
        if out is None:
            typer.echo("".join(lines), nl=False)
            return
        fd = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.writelines(lines)
        typer.echo(f"Wrote {len(lines)} audit records to {out}.", err=True)


def register(app: typer.Typer) -> None:
    app.add_typer(audit_app, name="audit")
