"""``enclave schema [--json]``: what researchers write SQL against, and what is public.

Every table of the dataset policy with its columns (warehouse type, role, and the public
domain when the policy gives one: a key set, a date range, an integer range, public code
categories), the key sets, and the public group keys: the declared key expressions, and
examples of keys derived from public domains (``gateway.plan.domains``) — calendar years,
quarters, months and weeks of a date, age from a birth year (also at a visit), ICD-10
categories and chapter letters — each with how many keys it releases. Read from the
dataset policy alone (``ENCLAVE_POLICIES``): no data, no store, no enclave needed.
"""

from __future__ import annotations

from typing import Any

import typer

from enclave.cli._common import AsJson, answer, cli_errors, settings

__all__ = ["register"]


def _print(data: dict[str, Any]) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console()
    for t in data["tables"]:
        kind = "about people" if t["protected"] else "public"
        table = Table("column", "type", "role", "public domain", title=f"{t['table']} ({kind})")
        for c in t["columns"]:
            bounds = f" [{c['bounds'][0]:g}, {c['bounds'][1]:g}]" if c["bounds"] else ""
            table.add_row(
                c["column"], c["type"] or "", c["role"] + bounds, c["public_domain"] or ""
            )
        console.print(table)
    keys = Table("group key", "keys", "from", "to", "key set", title="Public group keys")
    for k in data["public_keys"]:
        keys.add_row(k["expression"], str(k["keys"]), str(k["first"]), str(k["last"]), k["key_set"])
    console.print(keys)
    console.print(
        "Any key that is a function of columns with a public domain is public (every key "
        "released, no δ), up to "
        f"{data['max_public_combinations']} key combinations; see docs/sql-reference.md."
    )


def schema_cmd(
    as_json: AsJson = False,
) -> None:
    """Tables, columns, key sets and the public group keys of the dataset policy."""
    with cli_errors(as_json):
        from enclave.policy import load_dataset_policy
        from enclave.service._schema import schema_report

        data = schema_report(
            load_dataset_policy(settings(create=True).policies_dir / "dataset.toml")
        )
        answer(data, as_json, _print)


def register(app: typer.Typer) -> None:
    app.command("schema")(schema_cmd)
