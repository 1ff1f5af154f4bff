"""The projects repository: lifecycle, the rules a steward set, and members.

Policy files (``policies/projects/``) are the static base of a project's rules; the store
keeps where each project is in its lifecycle, the rules a steward set when approving an
application and the members a steward added. ``enclave.service`` turns a project's
:class:`ProjectState` and its file into the one effective policy.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from enclave.errors import Conflict, NotFound, UserError
from enclave.store import _accounts as acc
from enclave.store import _ledger
from enclave.store._base import Repository
from enclave.store._db import Tx
from enclave.store._types import BudgetLimits, BudgetStatus, ProjectRecord

__all__ = ["ProjectState", "Projects", "approval_detail"]


@dataclass(frozen=True)
class ProjectState:
    """What the store holds about one project (``record`` None: not in the store)."""

    record: ProjectRecord | None = None
    rules: dict[str, Any] | None = None
    members: tuple[str, ...] = field(default=())


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


def _state(tx: Tx, project: str) -> ProjectState:
    row = tx.one("project_get", (project,))
    if row is None:
        return ProjectState()
    rules = tx.one("policy_get", (project,))
    members = tuple(r[0] for r in tx.all("members_of", (project,)))
    return ProjectState(
        acc.project_record(row), None if rules is None else json.loads(rules[0]), members
    )


class Projects(Repository):
    """Applications, approvals, suspensions, approval rules and memberships."""

    def apply(
        self,
        project: str,
        *,
        title: str,
        purpose: str,
        tables: tuple[str, ...],
        requested_epsilon: float | None,
        applicant: str,
        status: str = "pending",
        actor: str | None = None,
    ) -> ProjectRecord:
        """Record a project application (or, with ``status="active"``, a steward's
        direct creation, e.g. from a policy file). Conflict if the id is taken."""
        if status not in ("pending", "active"):
            raise UserError("A new project is either pending or active.")
        wanted = json.dumps(list(tables))

        def run(tx: Tx) -> ProjectRecord:
            if tx.one("project_get", (project,)) is not None:
                raise Conflict(f"Project {project!r} already exists; choose another id.")
            now = self._b.now()
            row = (project, status, title, purpose, wanted, requested_epsilon, applicant, now, now)
            tx.execute("project_insert", row)
            detail = status if actor in (None, applicant) else f"{status} for {applicant}"
            who = actor or applicant
            self._b.audit_in(tx, actor=who, action="apply_project", project=project, detail=detail)
            return acc.require_project(tx, project)

        return self._b.write(run)

    def set_status(
        self, project: str, status: str, *, steward: str, reason: str | None = None
    ) -> ProjectRecord:
        """Approve (active), reject, suspend or reactivate a project; audited."""

        def run(tx: Tx) -> ProjectRecord:
            acc.check_transition(acc.require_project(tx, project).status, status, project)
            tx.execute("project_status", (status, reason, self._b.now(), project))
            action = f"project_{status}"
            self._b.audit_in(tx, actor=steward, action=action, project=project, detail=reason)
            return acc.require_project(tx, project)

        return self._b.write(run)

    def approve(
        self, project: str, rules: dict[str, Any], *, steward: str, reason: str | None = None
    ) -> ProjectRecord:
        """Pending → active with ``rules``; the applicant becomes a member. Audited, with the
        steward's reason (kept on the project too) and what was granted."""
        body = json.dumps(rules, sort_keys=True)

        def run(tx: Tx) -> ProjectRecord:
            record = acc.require_project(tx, project)
            acc.check_transition(record.status, "active", project)
            now = self._b.now()
            tx.execute("project_status", ("active", reason, now, project))
            tx.execute("policy_put", (project, body, steward, now))
            if record.applicant and tx.one("user_get", (record.applicant,)) is not None:
                tx.execute("member_insert", (project, record.applicant, now))
            detail = approval_detail(rules, reason)
            self._b.audit_in(
                tx, actor=steward, action="project_active", project=project, detail=detail
            )
            return acc.require_project(tx, project)

        return self._b.write(run)

    def set_rules(self, project: str, rules: dict[str, Any], *, steward: str) -> None:
        """Replace an existing project's rules (e.g. a new review threshold). Audited."""
        body = json.dumps(rules, sort_keys=True)

        def run(tx: Tx) -> None:
            acc.require_project(tx, project)
            tx.execute("policy_put", (project, body, steward, self._b.now()))
            self._b.audit_in(tx, actor=steward, action="project_rules", project=project)

        self._b.write(run)

    def get(self, project: str) -> ProjectRecord | None:
        row = self._b.read(lambda tx: tx.one("project_get", (project,)))
        return None if row is None else acc.project_record(row)

    def all(self) -> list[ProjectRecord]:
        return [acc.project_record(r) for r in self._b.read(lambda tx: tx.all("project_all"))]

    def rules(self) -> dict[str, dict[str, Any]]:
        """Every stored project's rules, by project id."""
        rows = self._b.read(lambda tx: tx.all("policy_all"))
        return {str(p): json.loads(body) for p, body in rows}

    def state(self, project: str) -> ProjectState:
        """A project's record, stored rules and store members, in one read transaction."""
        return self._b.read(lambda tx: _state(tx, project))

    def cached_for_member(
        self,
        project: str,
        cache_key: str,
        user: str,
        policy_of: Callable[[ProjectState], Any],
    ) -> tuple[dict[str, Any], BudgetStatus] | None:
        """In one read transaction: the project's policy (``policy_of`` its state, None if
        not usable) and, if there is one and the release is cached, the release and the
        user's budget."""

        def run(tx: Tx) -> tuple[dict[str, Any], BudgetStatus] | None:
            policy = policy_of(_state(tx, project))
            if policy is None:
                return None
            stored = _ledger.cached_release(tx, project, cache_key)
            if stored is None:
                return None
            return stored, _ledger.budget(tx, project, BudgetLimits.from_policy(policy), user)

        return self._b.read(run)

    def add_member(self, project: str, user: str, *, steward: str) -> None:
        def run(tx: Tx) -> None:
            acc.require_project(tx, project)
            acc.require_user(tx, user)
            if tx.execute("member_insert", (project, user, self._b.now())):
                self._b.audit_in(
                    tx, actor=steward, action="add_member", project=project, detail=user
                )

        self._b.write(run)

    def remove_member(self, project: str, user: str, *, steward: str) -> None:
        def run(tx: Tx) -> None:
            if not tx.execute("member_delete", (project, user)):
                raise NotFound(f"{user!r} is not a member of {project!r}.")
            self._b.audit_in(
                tx, actor=steward, action="remove_member", project=project, detail=user
            )

        self._b.write(run)

    def members(self, project: str) -> list[str]:
        return [r[0] for r in self._b.read(lambda tx: tx.all("members_of", (project,)))]

    def memberships(self, user: str) -> list[str]:
        return [r[0] for r in self._b.read(lambda tx: tx.all("projects_of", (user,)))]
