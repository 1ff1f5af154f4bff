"""``enclave demo``: the whole product end to end on a synthetic extract."""

from __future__ import annotations

import dataclasses
import sys
from typing import Annotated

import typer

from enclave.cli._children import stop_on_signals, supervise
from enclave.cli._common import cli_errors, emit, settings

__all__ = ["register"]


def demo(
    persons: Annotated[int, typer.Option(min=100, help="Synthetic persons to generate.")] = 20_000,
    seed: Annotated[int, typer.Option(help="Seed of the synthetic extract.")] = 7,
    no_serve: Annotated[
        bool, typer.Option("--no-serve", help="Set up only; start nothing.")
    ] = False,
    engine: Annotated[str, typer.Option(help="duckdb (default) or spark.")] = "duckdb",
    api_port: Annotated[int, typer.Option(help="API port.")] = 8000,
    dashboard_port: Annotated[int, typer.Option(help="Dashboards port.")] = 8501,
    no_indicators: Annotated[
        bool, typer.Option("--no-indicators", help="Skip the indicator backfill.")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Synthesize → ingest → example policies → demo project + token → API and dashboards."""
    from rich.console import Console

    from enclave.demo import print_summary, run_demo, serve

    with cli_errors(as_json):
        s = dataclasses.replace(settings(create=True), engine=engine)
        result = run_demo(
            s,
            persons=persons,
            seed=seed,
            api_port=api_port,
            dashboard_port=dashboard_port,
            progress=not as_json and sys.stderr.isatty(),
            indicators=not no_indicators,
        )
        if as_json:
            emit(result.to_json())
        else:
            print_summary(result, Console())
        if no_serve:
            return
        with stop_on_signals():  # SIGTERM/SIGINT stop the API and the dashboards too
            procs = serve(s, result)
            code = supervise(procs)
    raise typer.Exit(code)


def register(app: typer.Typer) -> None:
    app.command("demo")(demo)
