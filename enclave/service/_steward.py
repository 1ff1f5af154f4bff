"""What stewards do with projects: applications, approvals, status, members, top-ups.

Every method takes the acting principal first and refuses (``Forbidden``) anyone whose
role does not allow the action. Validation happens before the store is touched, so a
refused action leaves the store unchanged; every change is audited by the store in its
transaction. Approvals and project top-ups are checked against the dataset's privacy
ceiling (``Ceiling``) under its lock.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any

from enclave.errors import Conflict, Forbidden, NotFound, UserError
from enclave.service._access import require_steward
from enclave.service._projects import validate_rules
from enclave.service._validate import PROJECT_ID, positive, validate_id
from enclave.store import BudgetLimits

if TYPE_CHECKING:
    from enclave.policy import ProjectPolicy
    from enclave.service._access import Access
    from enclave.service._ceiling import Ceiling
    from enclave.service._policies import Policies
    from enclave.service._values import Application, TopUp
    from enclave.store import Principal, Store

__all__ = ["Stewardship"]


class Stewardship:
    """A steward's project actions over one store.

    Args:
        store: the metadata store (project records, members, ledger).
        policies: the dataset policy and the effective project policies.
        access: roles and memberships (what a researcher may see).
        ceiling: the dataset's privacy ceiling.
    """

    def __init__(self, store: Store, policies: Policies, access: Access, ceiling: Ceiling) -> None:
        self._store = store
        self._policies = policies
        self._access = access
        self._ceiling = ceiling

    # -- projects --------------------------------------------------------------------
    def apply_project(self, principal: Principal, app: Application) -> dict[str, Any]:
        """A researcher applies for a project (pending until a steward decides).

        A steward may record an application on a researcher's behalf (``applicant``, an
        existing researcher); the audit record's actor is still the steward.
        """
        applicant = self._applicant(principal, app.applicant)
        validate_id("project id", app.project, PROJECT_ID)
        if not app.title or not app.title.strip():
            raise UserError("Give the project a short title.")
        if not app.tables:
            raise UserError("Name the tables the project needs, e.g. persons,claims.")
        if app.requested_epsilon is not None:
            positive("The requested epsilon", app.requested_epsilon)
        if app.project in self._policies.file_projects:
            raise Conflict(f"Project id {app.project!r} is taken; choose another id.")
        for table in app.tables:
            if self._policies.dataset.table(table) is None:
                known = ", ".join(t.name for t in self._policies.dataset.tables)
                raise NotFound(f"There is no table {table!r}; the dataset has {known}.")
        record = self._store.projects.apply(
            app.project,
            title=app.title,
            purpose=app.purpose,
            tables=app.tables,
            requested_epsilon=app.requested_epsilon,
            applicant=applicant,
            actor=principal.user,
        )
        return _record_json(record)

    def _applicant(self, principal: Principal, applicant: str | None) -> str:
        """Who applies: the principal, or the researcher a steward applies for."""
        if principal.role not in ("researcher", "steward"):
            raise Forbidden("Only researchers (or stewards) may apply for a project.")
        if applicant is None or applicant == principal.user:
            return principal.user
        if principal.role != "steward":
            raise Forbidden("Only a steward may record an application for someone else.")
        user = self._store.accounts.user(applicant)
        if user is None or user["role"] != "researcher":
            raise NotFound(f"No researcher {applicant!r}; add them first (`enclave user add`).")
        return applicant

    def _ensure_record(self, project: str, steward: str) -> None:
        """Give a policy-file project a store record (so it can be suspended, etc.)."""
        if self._store.projects.get(project) is not None:
            return
        base = self._policies.file_projects.get(project)
        if base is None:
            raise NotFound(f"There is no project {project!r}; see `enclave project list`.")
        self._store.projects.apply(
            project,
            title=base.title,
            purpose="defined by a policy file",
            tables=tuple(t for t, _ in base.tables),
            requested_epsilon=base.epsilon,
            applicant=steward,
            status="active",
        )

    def approve_project(
        self, principal: Principal, project: str, rules: dict[str, Any], reason: str | None = None
    ) -> dict[str, Any]:
        """Approve a pending application with the rules the steward sets (and why);
        refused if its budget would pass the dataset's privacy ceiling."""
        require_steward(principal)
        clean = validate_rules(rules, self._policies.dataset)
        with self._ceiling.held():
            record = self._store.projects.get(project)
            if record is not None and record.status == "pending":
                self._ceiling.refuse_approval(principal, project, clean)
            if record is None:
                raise NotFound(
                    f"There is no application {project!r}; check `enclave project list`."
                )
            if not self._has_member(project, record.applicant):
                raise UserError(
                    f"Project {project!r} would have no member: its applicant is not a user. "
                    "Add the researcher (`enclave user add`) and make them a member first."
                )
            why = reason.strip() if reason and reason.strip() else None
            approved = self._store.projects.approve(
                project, clean, steward=principal.user, reason=why
            )
        return _record_json(approved)

    def _has_member(self, project: str, applicant: str | None) -> bool:
        if applicant and self._store.accounts.user(applicant) is not None:
            return True
        base = self._policies.file_projects.get(project)
        return bool(self._store.projects.members(project)) or bool(
            base is not None and base.members
        )

    def set_project_status(
        self, principal: Principal, project: str, status: str, reason: str | None = None
    ) -> dict[str, Any]:
        """Reject, suspend or reactivate a project (approve has its own method)."""
        require_steward(principal)
        if status not in ("rejected", "suspended", "active"):
            raise UserError("Use approve, reject, suspend or resume.")
        if (
            status == "active"
            and (rec := self._store.projects.get(project))
            and rec.status == "pending"
        ):
            raise UserError("Approve a pending application with its rules (`project approve`).")
        self._ensure_record(project, principal.user)
        record = self._store.projects.set_status(
            project, status, steward=principal.user, reason=reason
        )
        return _record_json(record)

    def list_projects(self, principal: Principal) -> list[dict[str, Any]]:
        """Stewards see every project; researchers their own and their applications."""
        if principal.role == "steward":
            ids = set(self._policies.file_projects) | {r.id for r in self._store.projects.all()}
        elif principal.role == "researcher":
            mine = {r.id for r in self._store.projects.all() if r.applicant == principal.user}
            ids = set(self._access.projects_of(principal)) | mine
        else:
            raise Forbidden("The public role may only read published releases.")
        return [self.describe_project(p) for p in sorted(ids)]

    def show_project(self, principal: Principal, project: str) -> dict[str, Any]:
        if principal.role != "steward":
            allowed = {p["id"] for p in self.list_projects(principal)}
            if project not in allowed:
                raise Forbidden(f"You are not a member of project {project!r}; ask its steward.")
        return self.describe_project(project)

    def describe_project(self, project: str) -> dict[str, Any]:
        record = self._store.projects.get(project)
        if record is None and project not in self._policies.file_projects:
            raise NotFound(f"There is no project {project!r}; check `enclave project list`.")
        policy = self._policies.project_policy(project)
        out: dict[str, Any] = (
            _record_json(record) if record is not None else {"id": project, "status": "active"}
        )
        out["source"] = "policy file" if project in self._policies.file_projects else "store"
        out["policy"] = None if policy is None else _policy_json(policy)
        if policy is not None:
            out.setdefault("title", policy.title)
            status = self._store.budget(project, BudgetLimits.from_policy(policy))
            out["budget"] = {  # the ledger's figures: top-ups included, never stale
                k: getattr(status, k)
                for k in ("epsilon_total", "epsilon_spent", "epsilon_remaining")
            }
        return out

    # -- members -----------------------------------------------------------
    def add_member(self, principal: Principal, project: str, user: str) -> dict[str, Any]:
        require_steward(principal)
        if self._store.accounts.user(user) is None:
            raise NotFound(f"No user {user!r}; add the user first (`enclave user add`).")
        self._ensure_record(project, principal.user)
        self._store.projects.add_member(project, user, steward=principal.user)
        return {"project": project, "user": user, "member": True}

    def remove_member(self, principal: Principal, project: str, user: str) -> dict[str, Any]:
        require_steward(principal)
        base = self._policies.file_projects.get(project)
        if base is not None and user in base.members:
            raise UserError(
                f"{user!r} is a member through the policy file of {project!r}; remove them "
                "there, or revoke their tokens / suspend the project now."
            )
        self._ensure_record(project, principal.user)
        self._store.projects.remove_member(project, user, steward=principal.user)
        return {"project": project, "user": user, "member": False}

    # -- budgets ---------------------------------------------------------------------
    def top_up(self, principal: Principal, grant: TopUp) -> dict[str, Any]:
        """Add budget to a project (or one member's share), with an audited reason;
        refused if it would pass the ceiling. A member's top-up only raises their share
        of the project's budget, so it adds nothing to the total."""
        require_steward(principal)
        project, epsilon, delta, member = grant.project, grant.epsilon, grant.delta, grant.member
        with self._ceiling.held():
            policy = self._policies.project_policy(project)
            if member is None and policy is not None and epsilon >= 0 and delta >= 0:
                self._ceiling.refuse_top_up(principal, project, epsilon, delta)
            for name, value in (("epsilon", epsilon), ("delta", delta)):
                if value < 0:
                    raise UserError(f"A top-up cannot be negative ({name}); give a value above 0.")
            if not grant.reason or not grant.reason.strip():
                raise UserError("A top-up needs a reason (it is audited).")
            policy = self._policies.approved(project)
            if member is not None and member not in policy.members:
                raise NotFound(f"{member!r} is not a member of {project!r}.")
            self._store.ledger.top_up(grant, steward=principal.user)
        return self._store.budget(project, BudgetLimits.from_policy(policy)).to_json()


def _record_json(record: Any) -> dict[str, Any]:
    out = dataclasses.asdict(record)
    out["tables"] = list(out["tables"])
    return out


def _policy_json(policy: ProjectPolicy) -> dict[str, Any]:
    out = dataclasses.asdict(policy)
    if policy.accounting == "pure":  # the default, stated by zcdp projects only
        del out["accounting"]
    out["members"] = list(policy.members)
    out["tables"] = {t: list(cols) for t, cols in policy.tables}
    return out
