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

from typing import Annotated, Any

import typer

from enclave.cli._common import cli_errors, emit, settings

__all__ = ["register", "schema_report"]

#: the documented age band (docs/sql-reference.md)
AGE_BAND = (
    "CASE WHEN {c} >= 2007 THEN '0-17' WHEN {c} >= 1985 THEN '18-39' "
    "WHEN {c} >= 1960 THEN '40-64' ELSE '65+' END"
)
_DATE_KEYS = (
    "year({c})",
    "quarter({c})",
    "month({c})",
    "week({c})",
    "date_trunc('quarter', {c})",
    "strftime({c}, '%Y-%m')",
)


def _columns(ds: Any, role: str, test: Any = bool) -> list[str]:
    return [
        f"{t.name}.{c.name}" for t in ds.tables for c in t.columns if c.role == role and test(c)
    ]


def _examples(ds: Any) -> list[str]:
    """Public key examples for the columns this policy gives a public domain."""
    dates = _columns(ds, "date", lambda c: c.lower is not None and c.upper is not None)
    years = _columns(ds, "numeric", lambda c: c.integer)
    codes = _columns(ds, "code", lambda c: c.public_codes)
    out = [k.format(c=c) for c in dates for k in _DATE_KEYS]
    for c in years:
        out += [c, f"FLOOR({c} / 10) * 10"]
    for c in (y for y in years if y.endswith(".birth_year")):
        out += [f"FLOOR((2024 - {c}) / 10) * 10", AGE_BAND.format(c=c)]
        out += [f"year({d}) - {c}" for d in dates]
    out += [f"substr({c}, 1, {n})" for c in codes for n in (3, 1)]
    return out


def _domain_text(ds: Any, table: Any, column: Any) -> str | None:
    from enclave.gateway.plan.domains import column_domain

    domain = column_domain(table, column.name, ds)
    return None if domain is None else domain.describe()


def _tables(ds: Any) -> list[dict[str, Any]]:
    from enclave.schema import TABLES

    types = {(t, c): typ for t, cols in TABLES.items() for c, typ in cols}
    return [
        {
            "table": t.name,
            "protected": t.protected,
            "person_column": t.person_column,
            "columns": [
                {
                    "column": c.name,
                    "type": types.get((t.name, c.name)),
                    "role": c.role,
                    "bounds": None if c.role != "numeric" else [c.lower, c.upper],
                    "public_domain": _domain_text(ds, t, c),
                }
                for c in t.columns
            ],
        }
        for t in ds.tables
    ]


def _key(expression: str, values: tuple[Any, ...], source: str) -> dict[str, Any]:
    return {
        "expression": expression,
        "keys": len(values),
        "first": values[0],
        "last": values[-1],
        "key_set": source,
    }


def schema_report(ds: Any) -> dict[str, Any]:
    """The schema, key sets and public keys of a dataset policy, as JSON-able data."""
    from enclave.gateway.plan.domains import image_of

    public = []
    for e in ds.public_key_exprs:
        ks = ds.key_set(e.key_set)
        if ks is not None:
            public.append(_key(f"{e.table}: {e.expression}", ks.values, e.key_set))
    for sql in _examples(ds):
        values = image_of(sql, ds)
        if values:
            public.append(_key(sql, values, "derived"))
    return {
        "dataset": ds.name,
        "tables": _tables(ds),
        "key_sets": {k.name: len(k.values) for k in ds.key_sets},
        "public_keys": public,
        "max_public_combinations": ds.limits.max_private_groups,
    }


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
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Tables, columns, key sets and the public group keys of the dataset policy."""
    with cli_errors(as_json):
        from enclave.policy import load_dataset_policy

        data = schema_report(
            load_dataset_policy(settings(create=True).policies_dir / "dataset.toml")
        )
        if as_json:
            emit(data)
        else:
            _print(data)


def register(app: typer.Typer) -> None:
    app.command("schema")(schema_cmd)
