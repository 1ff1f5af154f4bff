"""The schema researchers write SQL against, and what in it is public — from policy alone.

Every table of the dataset policy (optionally as one project sees it) with its columns
(warehouse type, role, and the public domain when the policy gives one: a key set, a date
range, an integer range, public code categories), the key sets, and the public group keys:
the declared key expressions, and examples of keys derived from public domains
(``gateway.plan.domains``) — calendar years, quarters, months and weeks of a date, age from
a birth year (also at a visit), ICD-10 categories and chapter letters — each with how many
keys it releases. No data, no store: ``enclave schema`` and the researcher page show it.
"""

from __future__ import annotations

from typing import Any

__all__ = ["schema_report"]

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


def _tables(ds: Any, project: Any = None) -> list[dict[str, Any]]:
    from enclave.schema import TABLES

    types = {(t, c): typ for t, cols in TABLES.items() for c, typ in cols}

    def allowed(table: str) -> tuple[str, ...] | None:
        return ("*",) if project is None else project.allowed_columns(table)

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
                if "*" in (allowed(t.name) or ()) or c.name in (allowed(t.name) or ())
            ],
        }
        for t in ds.tables
        if allowed(t.name) is not None
    ]


def _key(expression: str, values: tuple[Any, ...], source: str) -> dict[str, Any]:
    return {
        "expression": expression,
        "keys": len(values),
        "first": values[0],
        "last": values[-1],
        "key_set": source,
    }


def schema_report(ds: Any, project: Any = None) -> dict[str, Any]:
    """The schema, key sets and public keys of a dataset policy, as JSON-able data; with a
    project policy, only the tables and columns that project may read."""
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
        "tables": _tables(ds, project),
        "key_sets": {k.name: len(k.values) for k in ds.key_sets},
        "public_keys": public,
        "max_public_combinations": ds.limits.max_private_groups,
    }
