"""The ``enclave`` command line (typer). Each verb group lives in its own module."""

from __future__ import annotations

import importlib

import typer

from enclave.cli import _help

__all__ = ["app", "main"]

_help.install()

app = typer.Typer(
    name="enclave",
    help="Privacy-preserving research enclave for health-insurance claims.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

#: Modules that each define ``register(app)``; missing ones are skipped quietly so that a
#: partial install still offers the verbs it has.
_VERB_MODULES = (
    "_init",
    "_synth",
    "_ingest",
    "_query",
    "_budget",
    "_audit",
    "_steward",
    "_serve",
    "_indicators",
    "_dashboards",
    "_engines",
    "_demo",
    "_schema",
)

for _name in _VERB_MODULES:
    try:
        _mod = importlib.import_module(f"enclave.cli.{_name}")
    except ModuleNotFoundError as _exc:
        if _exc.name != f"enclave.cli.{_name}":
            raise
        continue
    _mod.register(app)


def main() -> None:
    app()
