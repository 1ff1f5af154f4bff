"""Group keys: which are public (returned in full from a policy key set) and which private.

A key is public when it is a bare column whose policy names a ``key_set``, or when, with
every column replaced by its base-table definition and qualifiers dropped, it equals one
of the dataset's ``public_key_exprs`` after sqlglot normalisation.

>>> normalise("DATE_TRUNC('week', c.visit_date)") == normalise("date_trunc('week', visit_date)")
True
>>> normalise("substring(icd10, 1, 1)") == normalise("substr(icd10, 1, 1)")
True
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import sqlglot
import sqlglot.expressions as exp
from sqlglot.optimizer.normalize_identifiers import normalize_identifiers

from enclave.gateway.plan.sources import Scope
from enclave.policy import DatasetPolicy, KeySet

__all__ = ["key_combinations", "key_set_for", "key_sql", "normalise"]

_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def normalise(sql_or_expr: str | exp.Expression) -> str:
    """Canonical text of an expression: identifiers lower-cased, qualifiers dropped."""
    node = (
        sqlglot.parse_one(sql_or_expr, dialect="duckdb")
        if isinstance(sql_or_expr, str)
        else sql_or_expr.copy()
    )
    for col in node.find_all(exp.Column):
        col.set("table", None)
    node = normalize_identifiers(node, dialect="duckdb")
    return node.sql(dialect="duckdb", normalize=True).lower()


def key_set_for(key: exp.Expression, scope: Scope, ds: DatasetPolicy) -> KeySet | None:
    """The public key set of a group key, or None when the key is private."""
    expanded, tables = scope.expand(key)
    if len(tables) != 1:
        return None
    (table_name,) = tables
    if isinstance(expanded, exp.Column):
        table = ds.table(table_name)
        col = table.column(expanded.name.lower()) if table else None
        if col is not None and col.role == "key" and col.key_set:
            return ds.key_set(col.key_set)
        return None
    text = normalise(expanded)
    for pke in ds.public_key_exprs:
        if pke.table == table_name and normalise(pke.expression) == text:
            return ds.key_set(pke.key_set)
    return None


def key_sql(key: exp.Expr, key_set: KeySet | None) -> str:
    """The key's SQL in the relation; public keys are cast to the key set's value type."""
    sql = key.sql(dialect="duckdb")
    if key_set is None:
        return sql
    values = key_set.values
    if all(isinstance(v, str) and _ISO_DATE.match(v) for v in values):
        return f"CAST(CAST({sql} AS DATE) AS VARCHAR)"
    if all(isinstance(v, str) for v in values):
        return f"CAST({sql} AS VARCHAR)"
    return f"TRY_CAST({sql} AS BIGINT)"


def key_combinations(key_sets: Sequence[str | None], ds: DatasetPolicy, unknown: int) -> int:
    """How many key tuples a query can have: the product of the key sets' sizes, counting
    ``unknown`` for a private key (or a key set the policy does not name).

    >>> from enclave.policy import load_dataset_policy
    >>> from enclave.settings import REPO_POLICIES
    >>> ds = load_dataset_policy(REPO_POLICIES / "dataset.toml")
    >>> key_combinations(["sexes", None], ds, unknown=10) == len(ds.key_set("sexes").values) * 10
    True
    """
    combos = 1
    for name in key_sets:
        ks = ds.key_set(name) if name else None
        combos *= len(ks.values) if ks is not None else unknown
    return combos
