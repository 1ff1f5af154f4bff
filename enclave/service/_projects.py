"""The projects the gateway sees: policy files merged with what stewards did in the store.

The policy files in ``policies/projects/`` are the static base. The store adds, per
project: its lifecycle status (a suspended project is refused), members added by a
steward, and the rules a steward set when approving an application (which replace the
file's rules for that project). Only ``active`` projects with rules can be queried.

>>> from enclave.policy import ProjectPolicy
>>> from enclave.store import ProjectRecord, ProjectState
>>> base = ProjectPolicy("p", "P", ("a",), (("persons", ("*",)),), epsilon=1.0)
>>> record = ProjectRecord("p", "suspended", "P", "", (), None, None, "", "")
>>> merged = effective_policy("p", base, ProjectState(record, None, ("b",)))
>>> merged.status, merged.members
('suspended', ('a', 'b'))
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from typing import Any

from enclave.errors import NotFound, UserError
from enclave.policy import DatasetPolicy, ProjectPolicy
from enclave.service._validate import positive
from enclave.store import ProjectState

__all__ = ["effective_policy", "policy_from_rules", "validate_rules"]

_RULE_KEYS = frozenset(
    {
        "title",
        "tables",
        "epsilon",
        "delta",
        "max_epsilon_per_query",
        "member_epsilon",
        "review_epsilon",
    }
)


def policy_from_rules(
    project: str, rules: Mapping[str, Any], members: Iterable[str]
) -> ProjectPolicy:
    """A ``ProjectPolicy`` from the rules a steward stored at approval."""
    tables = tuple(
        (str(t), tuple(str(c) for c in cols)) for t, cols in sorted(rules["tables"].items())
    )
    return ProjectPolicy(
        id=project,
        title=str(rules.get("title") or project),
        members=tuple(sorted(set(members))),
        tables=tables,
        epsilon=float(rules["epsilon"]),
        delta=float(rules.get("delta") or 0.0),
        max_epsilon_per_query=float(rules["max_epsilon_per_query"]),
        member_epsilon=_opt(rules.get("member_epsilon")),
        review_epsilon=_opt(rules.get("review_epsilon")),
    )


def _opt(value: Any) -> float | None:
    return None if value is None else float(value)


def effective_policy(
    project: str, base: ProjectPolicy | None, state: ProjectState
) -> ProjectPolicy | None:
    """The effective policy of one project, or None when it cannot be queried (yet).

    ``base`` is the project's policy file (None if it has none), ``state`` what the store
    holds: its status, the rules a steward set (which replace the file's) and members.
    """
    status = None if state.record is None else state.record.status
    if status in ("pending", "rejected"):
        return None
    rules, extra = state.rules, state.members
    if rules is not None:
        file_members = base.members if base is not None else ()
        policy = policy_from_rules(project, rules, (*file_members, *extra))
    elif base is not None:
        policy = dataclasses.replace(base, members=tuple(dict.fromkeys((*base.members, *extra))))
    else:
        return None
    if status == "suspended":
        policy = dataclasses.replace(policy, status="suspended")
    return policy


def validate_rules(rules: Mapping[str, Any], dataset: DatasetPolicy) -> dict[str, Any]:
    """Check a steward's approval rules against the dataset policy; return them cleaned.

    >>> from enclave.policy import load_dataset_policy
    >>> from enclave.settings import REPO_POLICIES
    >>> ds = load_dataset_policy(REPO_POLICIES / "dataset.toml")
    >>> validate_rules({"tables": {"persons": ["region"]}, "epsilon": 2,
    ...                 "max_epsilon_per_query": 0.5}, ds)["tables"]
    {'persons': ['region']}
    """
    unknown = set(rules) - _RULE_KEYS
    if unknown:
        raise UserError(f"Unknown approval settings: {', '.join(sorted(unknown))}.")
    tables = rules.get("tables")
    if not isinstance(tables, Mapping) or not tables:
        raise UserError("Name the tables the project may use, e.g. {'persons': ['*']}.")
    clean_tables: dict[str, list[str]] = {}
    for table, cols in tables.items():
        tpol = dataset.table(str(table))
        if tpol is None:
            known = ", ".join(t.name for t in dataset.tables)
            raise NotFound(f"There is no table {table!r}; the dataset has {known}.")
        if isinstance(cols, str) or not cols:
            raise UserError(f"List the columns of {table!r} the project may use (or ['*']).")
        for col in cols:
            if col != "*" and tpol.column(str(col)) is None:
                raise NotFound(f"Table {table!r} has no column {col!r} in the dataset policy.")
        clean_tables[str(table)] = [str(c) for c in cols]
    eps = positive("epsilon", rules.get("epsilon"))
    cap = positive("max_epsilon_per_query", rules.get("max_epsilon_per_query", min(1.0, eps)))
    if cap > eps:
        raise UserError("max_epsilon_per_query must not exceed the project's epsilon.")
    delta = positive("delta", rules.get("delta", 0.0), allow_zero=True)
    if delta >= 1e-3:
        raise UserError("delta must be below 0.001 (typically 1e-6 or less), or 0.")
    out: dict[str, Any] = {
        "title": rules.get("title"),
        "tables": clean_tables,
        "epsilon": eps,
        "delta": delta,
        "max_epsilon_per_query": cap,
        "member_epsilon": None,
        "review_epsilon": None,
    }
    for key in ("member_epsilon", "review_epsilon"):
        if rules.get(key) is not None:
            out[key] = positive(key, rules[key])
    return out
