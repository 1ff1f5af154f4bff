"""Group keys: which are public (returned in full from a key set) and which private.

A key is public when

* it is a bare column whose policy names a ``key_set`` (``p.region``), or, with every
  column replaced by its base-table definition and qualifiers dropped, it equals one of
  the dataset's declared ``public_key_exprs`` after sqlglot normalisation (``weeks``…);
* or it is an expression of columns that each have a finite public domain (key sets,
  date ranges, ``integer`` numeric columns, public code categories; ``plan.domains``),
  over one table or several joined ones: its key set is then the **image** of those
  domains under the key, computed from the policy alone (``domains.image``). Such a
  *derived* key set is named after the key and its domains, and kept by name in the
  dataset policy's ``derived_key_sets`` so that the later stages (the key filter, the
  noise stage) find it like a declared one (``remember``).

When every key is public, all combinations are released; if there would be more than
``limits.max_private_groups``, derived keys (largest first) stay private instead.

>>> normalise("DATE_TRUNC('week', c.visit_date)") == normalise("date_trunc('week', visit_date)")
True
>>> normalise("substr(icd10, 1, 1)") == normalise("substr(icd10, 1, 1)")
True
"""

from __future__ import annotations

import hashlib
import math
import re
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass

import sqlglot
import sqlglot.expressions as exp
from sqlglot.optimizer.normalize_identifiers import normalize_identifiers

from enclave.gateway.plan.domains import Domain, column_domain, image
from enclave.gateway.plan.sources import Scope
from enclave.gateway.plan.total import guard
from enclave.policy import DatasetPolicy, KeySet

__all__ = [
    "KEEP_S",
    "MEMO_ENTRIES",
    "MEMO_VALUES",
    "derived_key_set",
    "key_combinations",
    "key_set_for",
    "key_sql",
    "normalise",
    "remember",
]

_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
#: nodes a derived key may not hold (they are not functions of one row's columns)
_NOT_SCALAR = (exp.AggFunc, exp.Window, exp.Subquery, exp.Select, exp.Star, exp.Placeholder)
#: derived key sets a dataset policy keeps, their values in all, and how long one is kept
#: after its last use (longer than any request runs, so a planned query finds its set)
MEMO_ENTRIES, MEMO_VALUES, KEEP_S = 1024, 1_000_000, 3600.0
_LOCK = threading.Lock()


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


@dataclass(frozen=True)
class _Derived(KeySet):
    """A derived key set and when a plan last used it (``time.monotonic``)."""

    used: float = 0.0


def remember(
    ds: DatasetPolicy, name: str, values: tuple[str | int, ...], now: float | None = None
) -> KeySet | None:
    """Keep a derived key set in ``ds.derived_key_sets``; None when there is no room.

    Room is made by dropping sets no plan used for ``KEEP_S`` seconds, never one a query
    being answered may still read. ``now`` is ``time.monotonic()`` unless given.
    """
    now = time.monotonic() if now is None else now
    with _LOCK:
        memo = ds.derived_key_sets
        if memo.pop(name, None) is None:
            total = sum(len(k.values) for k in memo.values())
            while memo and (len(memo) >= MEMO_ENTRIES or total + len(values) > MEMO_VALUES):
                first = next(iter(memo))
                if now - getattr(memo[first], "used", 0.0) < KEEP_S:
                    return None
                total -= len(memo.pop(first).values)
        entry = _Derived(name, values, used=now)
        memo[name] = entry
        return entry


#: one column a derived key reads: its table, its name and its public domain
Variable = tuple[str, str, Domain]


def _variables(
    key: exp.Expression, scope: Scope, ds: DatasetPolicy
) -> tuple[exp.Expr, list[Variable]] | None:
    """``key`` over columns ``v0, v1…`` (one per source column) and their domains; None
    when a column has no public domain or the key is not a function of one row."""
    names: dict[tuple[str, str], int] = {}
    found: list[Variable] = []

    def swap(node: exp.Expression) -> exp.Expression:
        if not isinstance(node, exp.Column):
            return node
        src = scope.source_of(node)

        def var(col: exp.Expression) -> exp.Expression:
            if not isinstance(col, exp.Column):
                return col
            ref = (src.alias, col.name.lower())
            if ref not in names:
                domain = column_domain(src.table, ref[1], ds)
                if domain is None:
                    raise LookupError(ref[1])
                names[ref] = len(found)
                found.append((src.table.name, ref[1], domain))
            return exp.column(f"v{names[ref]}")

        return scope.definition(node).transform(var)

    try:
        expr = guard(key.copy().transform(swap))
    except LookupError:
        return None
    if any(isinstance(n, _NOT_SCALAR) for n in expr.walk()):
        return None
    return expr, found


def _name(expr: exp.Expr, variables: list[Variable]) -> str:
    """A derived key set's name: the key over ``table.column`` names, and a digest of the
    exact expression and domains (two keys share a name only if they share an image)."""
    sql = expr.sql(dialect="duckdb")
    digest = hashlib.sha256(repr((sql, [v[2] for v in variables])).encode()).hexdigest()

    def plain(node: exp.Expression) -> exp.Expression:
        if isinstance(node, exp.Cast) and node.to.this == exp.DataType.Type.DOUBLE:
            return node.this.transform(plain)
        if isinstance(node, exp.Column):
            table, column, _ = variables[int(node.name[1:])]
            return exp.column(column, table=table)
        return node

    shown = expr.this if isinstance(expr, exp.Try) else expr
    return f"{shown.transform(plain).sql(dialect='duckdb')} [{digest[:8]}]"


def derived_key_set(key: exp.Expression, scope: Scope, ds: DatasetPolicy) -> KeySet | None:
    """The key set of ``key`` derived from its columns' public domains, or None."""
    found = _variables(key, scope, ds)
    if found is None:
        return None
    expr, variables = found
    name = _name(expr, variables)
    known = ds.derived_key_sets.get(name)
    values = known.values if known is not None else None
    if values is None:
        domains = tuple(v[2] for v in variables)
        values = image(expr.sql(dialect="duckdb"), domains, ds.limits.max_private_groups)
    if values is None or len(values) > ds.limits.max_private_groups:
        return None
    return remember(ds, name, values)


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
