"""Group keys: which are public (returned in full from a key set) and which private.

A key is public when

* it is a bare column whose policy names a ``key_set`` (``p.region``), or, with every
  column replaced by its base-table definition and qualifiers dropped, it equals one of
  the dataset's declared ``public_key_exprs`` after sqlglot normalisation (``weeks``…);
* or it is an expression of columns that each have a finite public domain (key sets,
  date ranges, ``integer`` numeric columns, public code categories; ``plan.domains``),
  over one table or several joined ones: its key set is then the **image** of those
  domains under the key, computed from the policy alone (``plan.derived``), kept by name
  in the dataset policy's ``derived_key_sets`` for the key filter and the noise stage.

When every key is public, all combinations are released; if there would be more than
``limits.max_private_groups``, derived keys (largest first) stay private instead.

>>> normalise("DATE_TRUNC('week', c.visit_date)") == normalise("date_trunc('week', visit_date)")
True
>>> normalise("substr(icd10, 1, 1)") == normalise("substr(icd10, 1, 1)")
True
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence

import sqlglot
import sqlglot.expressions as exp
from sqlglot.optimizer.normalize_identifiers import normalize_identifiers

from enclave.gateway.plan.derived import derived_key_set
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


def _declared(key: exp.Expression, scope: Scope, ds: DatasetPolicy) -> KeySet | None:
    """The key set the policy declares for ``key`` (a key column's, or a public key expr)."""
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


def _public_sets(scope: Scope, ds: DatasetPolicy) -> list[tuple[KeySet | None, bool]]:
    """Each GROUP BY key's public key set (and whether it is derived), derived keys made
    private, largest first, while all keys are public and their combinations too many."""
    group = scope.ast.args.get("group")
    keys = list(group.expressions) if group is not None else []
    sets: list[tuple[KeySet | None, bool]] = []
    for k in keys:
        declared = _declared(k, scope, ds)
        sets.append((declared, False) if declared else (derived_key_set(k, scope, ds), True))
    while (
        all(s for s, _ in sets)
        and math.prod(len(s.values) for s, _ in sets if s) > ds.limits.max_private_groups
    ):
        derived = [i for i, (s, d) in enumerate(sets) if d and s]
        if not derived:
            break
        widest = max(derived, key=lambda i: len(sets[i][0].values))  # type: ignore[union-attr]
        sets[widest] = (None, True)
    return sets


def key_set_for(key: exp.Expression, scope: Scope, ds: DatasetPolicy) -> KeySet | None:
    """The public key set of a group key, or None when the key is private."""
    group = scope.ast.args.get("group")
    keys = list(group.expressions) if group is not None else []
    for same in (lambda k: k is key, lambda k: k.sql() == key.sql()):
        for i, k in enumerate(keys):
            if same(k):
                return _public_sets(scope, ds)[i][0]
    return _declared(key, scope, ds) or derived_key_set(key, scope, ds)


def key_sql(key: exp.Expr, key_set: KeySet | None) -> str:
    """The key's SQL in the relation; public keys are cast to the key set's value type
    (with ``TRY_CAST``, so that a value outside the key set becomes NULL, never an error)."""
    sql = key.sql(dialect="duckdb")
    if key_set is None:
        return sql
    values = key_set.values
    if all(isinstance(v, str) and _ISO_DATE.match(v) for v in values):
        return f"CAST(TRY_CAST({sql} AS DATE) AS VARCHAR)"
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
