"""``enclave dashboards``: start the Streamlit apps (monitor, researcher, steward)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Annotated

import typer

from enclave.cli._children import stop_on_signals, supervise
from enclave.cli._common import cli_errors, settings

__all__ = ["APP", "page_urls", "register", "streamlit_command"]

#: The multi-page entry point (``dashboards/app.py``).
APP = Path(__file__).resolve().parents[2] / "dashboards" / "app.py"
PAGES = ("monitor", "researcher", "steward", "steward-audit")


def page_urls(host: str, port: int) -> dict[str, str]:
    """Each page's URL (the monitor is the app's default page, at the root).

    >>> page_urls("127.0.0.1", 8501)["monitor"], page_urls("127.0.0.1", 8501)["steward"]
    ('http://127.0.0.1:8501/', 'http://127.0.0.1:8501/steward')
    """
    return {p: f"http://{host}:{port}/{'' if p == 'monitor' else p}" for p in PAGES}


def streamlit_command(host: str, port: int) -> list[str]:
    """The command line that serves the dashboards (headless, no usage statistics)."""
    return [
        sys.executable,
        "-m",
        "streamlit",
        "run",
        str(APP),
        "--server.headless=true",
        f"--server.address={host}",
        f"--server.port={port}",
        "--browser.gatherUsageStats=false",
        "--server.fileWatcherType=none",
        # a viewer's toolbar: no Deploy button, no developer menu
        "--client.toolbarMode=viewer",
    ]


def dashboards(
    port: Annotated[int, typer.Option(help="Port to serve on.")] = 8501,
    host: Annotated[str, typer.Option(help="Address to bind.")] = "127.0.0.1",
) -> None:
    """Serve the dashboards and print each page's URL (Ctrl-C or SIGTERM stops them)."""
    with cli_errors():
        s = settings()
        if not APP.is_file():
            raise typer.BadParameter("dashboards/app.py is missing from this install.")
        for name, url in page_urls(host, port).items():
            typer.echo(f"{name:<14} {url}")
        typer.echo(f"(ENCLAVE_HOME={s.home})")
        with stop_on_signals():  # SIGTERM/SIGINT stop Streamlit too, never orphan it
            proc = subprocess.Popen(streamlit_command(host, port))  # noqa: S603
            code = supervise([proc])
        raise typer.Exit(code)


def register(app: typer.Typer) -> None:
    app.command("dashboards")(dashboards)
