"""Shared CLI plumbing: settings from the environment, JSON output, error mapping."""

from __future__ import annotations

import json
import os
import sys
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Annotated, Any

import typer

from enclave.errors import error_payload, exit_code
from enclave.settings import Settings

__all__ = ["AsJson", "answer", "cli_errors", "emit", "settings"]

#: the ``--json`` switch of a verb whose output is data
AsJson = Annotated[bool, typer.Option("--json", help="Print JSON.")]


def settings(*, create: bool = False) -> Settings:
    """The one place the CLI reads the environment. ENCLAVE_HOME must hold an enclave
    unless ``create`` (``enclave init`` and ``enclave demo`` make one)."""
    s = Settings.from_environ()
    return s if create else s.require_home()


def emit(data: Any) -> None:
    """Print data as JSON on standard output."""
    typer.echo(json.dumps(data, indent=2, sort_keys=False, default=str))


def answer(data: Any, as_json: bool, text: str | Callable[[Any], None]) -> None:
    """``data`` as JSON with ``--json``, else for people: ``text``, or what the printer
    ``text`` prints of ``data`` (a table, several lines)."""
    if as_json:
        emit(data)
    elif callable(text):
        text(data)
    else:
        typer.echo(text)


@contextmanager
def cli_errors(as_json: bool = False) -> Iterator[None]:
    """Turn enclave errors into one line (or a JSON refusal) and the right exit code.

    Unexpected exceptions print a generic message: engine text may carry data values.
    """
    try:
        yield
    except typer.Exit:
        raise
    except KeyboardInterrupt:
        typer.echo("Interrupted; nothing was changed.", err=True)
        raise typer.Exit(130) from None
    except Exception as exc:
        if os.environ.get("ENCLAVE_DEBUG") == "1":  # developers only: may show engine text
            traceback.print_exc()
        payload = error_payload(exc)
        if as_json:
            typer.echo(json.dumps(payload))
        else:
            err = payload["error"]
            print(f"error ({err['type']}): {err['message']}", file=sys.stderr)
        raise typer.Exit(exit_code(exc)) from None
