"""``enclave init``: create ENCLAVE_HOME (metadata store, local admin account)."""

from __future__ import annotations

from typing import Annotated

import typer

from enclave.cli._common import cli_errors, emit, settings

__all__ = ["register"]


def init(as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False) -> None:
    """Create an empty enclave in ENCLAVE_HOME (every other command needs one)."""
    from enclave.home import init_home

    with cli_errors(as_json):
        result = init_home(settings(create=True))
        if as_json:
            emit(result.to_json())
            return
        state = "Created" if result.created else "Already present:"
        typer.echo(f"{state} enclave at {result.home}; local admin account {result.admin}.")
        typer.echo("Next: enclave ingest SOURCE --format nhi, then enclave user add ….")


def register(app: typer.Typer) -> None:
    app.command("init")(init)
