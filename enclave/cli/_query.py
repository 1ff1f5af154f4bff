"""``enclave query``: ask the gateway (embedded, or a running server with ``--url``)."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from enclave.cli._common import cli_errors, emit, settings
from enclave.errors import Unauthorized

__all__ = ["register"]


def _read_sql(sql: str) -> str:
    return sys.stdin.read() if sql == "-" else sql


def _print_table(data: dict) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(*data["columns"])
    for row in data["rows"]:
        table.add_row(
            *("" if v is None else f"{v:.4g}" if isinstance(v, float) else str(v) for v in row)
        )
    from enclave.gateway.release.text import INTERVAL_NOTE, describe_bounds

    console = Console()
    console.print(table)
    console.print(data.get("interval_note") or INTERVAL_NOTE)
    if data.get("bounds"):
        console.print(describe_bounds(data["bounds"]))
    for note in data.get("notes") or []:
        console.print(note)
    console.print(
        f"ε spent {data['epsilon_spent']:g}; remaining {data['budget_remaining']}"
        + (" (cached release, no new cost)" if data.get("cached") else "")
    )


def query(
    sql: Annotated[str, typer.Argument(help="The SQL, or - to read it from standard input.")],
    project: Annotated[str, typer.Option("--project", "-p", help="Project id.")],
    epsilon: Annotated[float | None, typer.Option(help="Privacy budget to spend.")] = None,
    half_width: Annotated[
        float | None, typer.Option("--half-width", help="Target 95% half-width instead of ε.")
    ] = None,
    token: Annotated[
        str | None, typer.Option(envvar="ENCLAVE_TOKEN", help="API token (or ENCLAVE_TOKEN).")
    ] = None,
    url: Annotated[str | None, typer.Option(help="Ask a running server instead.")] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Show cost, spend nothing.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Run SQL through the gateway and print a differentially private release."""
    with cli_errors(as_json):
        text = _read_sql(sql)
        if not token:
            raise Unauthorized("No token: pass --token or set ENCLAVE_TOKEN (ask your steward).")
        if url:
            from enclave.client import Client

            client = Client(url, token)
            data = (
                client.dry_run_json(text, project=project, epsilon=epsilon, half_width=half_width)
                if dry_run
                else client.query_json(
                    text, project=project, epsilon=epsilon, half_width=half_width
                )
            )
        else:
            from enclave.service import Service

            service = Service.open(settings())
            principal = service.authenticate(token)
            data = service.query(
                principal, text, project, epsilon=epsilon, half_width=half_width, dry_run=dry_run
            )
        if as_json or dry_run:
            emit(data)
        else:
            _print_table(data)


def register(app: typer.Typer) -> None:
    app.command("query")(query)
