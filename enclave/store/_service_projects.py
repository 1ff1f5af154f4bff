"""Project approvals: the rules a steward sets, kept next to the project's lifecycle state.

Approving a pending project moves it to ``active``, stores its rules (tables and columns,
ε/δ, per-query cap, member cap, review threshold) and makes the applicant a member, in one
transaction with its audit record. The service merges these rules with the policy files
into the ``ProjectPolicy`` objects the gateway sees.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from enclave.errors import NotFound
from enclave.store import _accounts as acc
from enclave.store import _ledger
from enclave.store._service_db import ServiceTables
from enclave.store._types import BudgetLimits, BudgetStatus, ProjectRecord

__all__ = [
    "approval_detail",
    "approve_project",
    "cached_for_member",
    "project_rules",
    "project_state",
    "set_project_rules",
]


def _body(rules: dict[str, Any]) -> str:
    return json.dumps(rules, sort_keys=True)


def approval_detail(rules: dict[str, Any], reason: str | None) -> str:
    """The audit detail of an approval: the reason first, then what was granted.

    >>> approval_detail({"tables": {"claims": ["*"]}, "epsilon": 2.0, "delta": 0.0,
    ...                  "max_epsilon_per_query": 0.5, "review_epsilon": None}, "ethics ok")
    'ethics ok; epsilon 2 per-query 0.5 delta 0 tables claims'
    """
    granted = (
        f"epsilon {rules.get('epsilon'):g} per-query {rules.get('max_epsilon_per_query'):g} "
        f"delta {rules.get('delta') or 0:g}"
    )
    if rules.get("review_epsilon") is not None:
        granted += f" review above {rules['review_epsilon']:g}"
    granted += " tables " + ",".join(sorted(rules.get("tables") or {}))
    return f"{reason}; {granted}" if reason else granted


def approve_project(
    tables: ServiceTables,
    project: str,
    rules: dict[str, Any],
    *,
    steward: str,
    reason: str | None = None,
) -> ProjectRecord:
    """Pending → active with ``rules``; the applicant becomes a member. Audited, with the
    steward's reason (kept on the project too) and what was granted."""

    def run(tx: Any, mine: Any) -> ProjectRecord:
        record = acc.require_project(tx, project)
        acc.check_transition(record.status, "active", project)
        now = tables.now()
        tx.execute("project_status", ("active", reason, now, project))
        mine.execute("policy_put", (project, _body(rules), steward, now))
        if record.applicant and tx.one("user_get", (record.applicant,)) is not None:
            tx.execute("member_insert", (project, record.applicant, now))
        detail = approval_detail(rules, reason)
        tables.audit_in(tx, actor=steward, action="project_active", project=project, detail=detail)
        return acc.require_project(tx, project)

    return tables.run(run)


def set_project_rules(
    tables: ServiceTables, project: str, rules: dict[str, Any], *, steward: str
) -> None:
    """Replace an existing project's rules (e.g. a new review threshold). Audited."""

    def run(tx: Any, mine: Any) -> None:
        if tx.one("project_get", (project,)) is None:
            raise NotFound(f"No project {project!r}; check the id or apply for it first.")
        mine.execute("policy_put", (project, _body(rules), steward, tables.now()))
        tables.audit_in(tx, actor=steward, action="project_rules", project=project)

    tables.run(run)


def project_rules(tables: ServiceTables) -> dict[str, dict[str, Any]]:
    """Every stored project's rules, by project id."""
    rows = tables.run(lambda tx, mine: mine.all("policy_all"), write=False)
    return {str(p): json.loads(body) for p, body in rows}


def project_state(
    tables: ServiceTables, project: str
) -> tuple[ProjectRecord | None, dict[str, Any] | None, list[str]]:
    """A project's record, stored rules and store members, in one read transaction."""

    def run(tx: Any, mine: Any) -> tuple[ProjectRecord | None, dict[str, Any] | None, list[str]]:
        row = tx.one("project_get", (project,))
        if row is None:
            return None, None, []
        rules = mine.one("policy_get", (project,))
        members = [r[0] for r in tx.all("members_of", (project,))]
        return acc.project_record(row), None if rules is None else json.loads(rules[0]), members

    return tables.run(run, write=False)


def cached_for_member(
    tables: ServiceTables,
    project: str,
    cache_key: str,
    user: str,
    policy_of: Callable[[ProjectRecord | None, dict[str, Any] | None, list[str]], Any],
    usable: Callable[[Any], bool],
) -> tuple[dict[str, Any], BudgetStatus] | None:
    """In one read transaction: the project's state merged by ``policy_of``; if ``usable``
    accepts that policy and the release is cached, the release and the user's budget."""

    def run(tx: Any, mine: Any) -> tuple[dict[str, Any], BudgetStatus] | None:
        row = tx.one("project_get", (project,))
        rules = members = None
        if row is not None:
            found = mine.one("policy_get", (project,))
            rules = None if found is None else json.loads(found[0])
            members = [r[0] for r in tx.all("members_of", (project,))]
        record = None if row is None else acc.project_record(row)
        policy = policy_of(record, rules, members or [])
        if not usable(policy):
            return None
        stored = _ledger.cached_release(tx, project, cache_key)
        if stored is None:
            return None
        return stored, _ledger.budget(tx, project, BudgetLimits.from_policy(policy), user)

    return tables.run(run, write=False)
