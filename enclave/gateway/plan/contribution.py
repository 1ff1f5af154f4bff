"""Planning the contribution bounds: groups per person ``g`` and rows per person ``c``.

* ``g`` starts from the policy (``contribution.groups_per_person``; 1 without GROUP BY).
  It is **1** when every group key is a function of columns of one-row-per-person tables
  only — ``persons`` or a patient-level table (a person has one such row, so one key
  value: e.g. ``GROUP BY p.region``, an age band, or a per-person count).
  When every key is public it is also at most the number of key combinations (rows whose
  key is outside its key set are dropped before bounding, so ``GROUP BY p.sex`` gives
  ``g ≤ 2``). The bounding SQL enforces ``g`` whatever the data, so these choices only
  remove bias; they never rest on an assumption about the data for privacy.
* ``c`` is the policy's (a number, or ``"auto"``); when no aggregate depends on it —
  only ``COUNT(DISTINCT person)`` and group-clamped SUMs — there is no rows bound at all
  (``NO_ROWS_BOUND``): the sensitivity is ``g`` (``g·T``) and the "auto" choice and its
  ε share are skipped.

>>> import sqlglot
>>> from enclave.policy import load_dataset_policy
>>> from enclave.settings import REPO_POLICIES
>>> from enclave.gateway.plan.sources import Scope
>>> ds = load_dataset_policy(REPO_POLICIES / "dataset.toml")
>>> ast = sqlglot.parse_one("SELECT p.region, count(*) FROM claims c JOIN persons p "
...                         "ON p.person_id = c.person_id GROUP BY p.region", dialect="duckdb")
>>> groups_bound(ast.args["group"].expressions, [None], Scope.build(ast, ds), ds)
1
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import sqlglot.expressions as exp

from enclave.gateway.plan.keys import key_combinations
from enclave.gateway.plan.sources import Scope
from enclave.gateway.values import Aggregate
from enclave.policy import DatasetPolicy, TablePolicy

__all__ = [
    "NO_ROWS_BOUND",
    "PERSON_KEYS_NOTE",
    "PERSON_TABLE",
    "groups_bound",
    "groups_unbound",
    "one_row",
    "person_level",
    "rows_bound",
]

#: The table with one row per person (the canonical schema's person register).
PERSON_TABLE = "persons"
#: Plan note that says every key is a function of ``persons`` columns (so ``g = 1``).
PERSON_KEYS_NOTE = "one group per person: every key comes from persons"
#: Rows bound of a plan that needs none (COUNT(DISTINCT person) only): never reached.
NO_ROWS_BOUND = 2**31 - 1


def groups_bound(
    group_exprs: Sequence[exp.Expression],
    key_sets: Sequence[str | None],
    scope: Scope,
    ds: DatasetPolicy,
) -> int:
    """Groups per person for these GROUP BY expressions (public key set names or None)."""
    if not group_exprs or person_level(group_exprs, scope):
        return 1
    bound = ds.contribution.groups_per_person
    if all(ks is not None for ks in key_sets):
        bound = min(bound, key_combinations(key_sets, ds, unknown=bound))
    return max(1, bound)


def groups_unbound(
    groups: int,
    key_sets: Sequence[str | None],
    aggregates: Sequence[Aggregate],
    rows: int | Literal["auto"],
    ds: DatasetPolicy,
) -> int:
    """Groups per person when no noised piece depends on it: every key public and no
    COUNT(DISTINCT person) — every other sensitivity is ``c`` rows (or ``c·M``) however a
    person's rows spread over groups — so limiting groups below ``c`` only drops rows. Then
    ``g`` is as many groups as ``c`` rows can reach (at most the key combinations).

    >>> from enclave.policy import load_dataset_policy
    >>> from enclave.settings import REPO_POLICIES
    >>> ds = load_dataset_policy(REPO_POLICIES / "dataset.toml")
    >>> groups_unbound(4, ["weeks"], [Aggregate("n", "count", None)], 8, ds)
    8
    >>> groups_unbound(4, ["weeks"], [Aggregate("d", "count_distinct", "x")], 8, ds)
    4
    """
    if groups == 1 or any(ks is None for ks in key_sets):
        return groups
    if any(a.kind == "count_distinct" or a.group_upper is not None for a in aggregates):
        return groups  # their sensitivity grows with g
    cap = ds.contribution.auto_max_rows if rows == "auto" else int(rows)
    combos = key_combinations(list(key_sets), ds, unknown=cap)
    return max(groups, min(combos, cap))


def one_row(table: TablePolicy) -> bool:
    """Whether ``table`` holds at most one row per person by construction: ``persons``
    (the load keys it on the person token) or a query's patient-level table."""
    return table.one_row_per_person or table.name == PERSON_TABLE


def person_level(group_exprs: Sequence[exp.Expression], scope: Scope) -> bool:
    """Whether every key reads one-row-per-person tables only (one key value per person)."""
    single = {s.table.name for s in scope.sources if s.select is None and one_row(s.table)}
    return bool(group_exprs) and all(scope.expand(g)[1] <= single for g in group_exprs)


def _group_sum(agg: Aggregate) -> bool:
    """A SUM clamping each kept (person, group)'s total of all its rows (no ``c`` in it; an
    AVG's count still needs ``c``)."""
    return agg.kind == "sum" and agg.group_upper is not None


def rows_bound(
    aggregates: Sequence[Aggregate], selection: bool, policy: int | Literal["auto"]
) -> int | Literal["auto"]:
    """The plan's rows bound: the policy's, or ``NO_ROWS_BOUND`` when nothing depends on it.

    Key selection counts persons (sensitivity ``g``), so it never needs a rows bound; nor
    does a group-clamped SUM (``min(g, c)·T``: its rows all count, its groups are ``g``).
    """
    if all(a.kind == "count_distinct" or _group_sum(a) for a in aggregates):
        return NO_ROWS_BOUND
    return policy
