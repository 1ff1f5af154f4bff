"""What stewards do: applications, approvals, members, users, tokens, top-ups, reviews,
audit. Mixed into ``Service``; every change is audited by the store in its transaction.

Every method takes the acting principal first and refuses (``Forbidden``) anyone whose
role does not allow the action. Validation happens before the store is touched, so a
refused action leaves the store unchanged.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import TYPE_CHECKING, Any

from enclave.errors import Conflict, Forbidden, NotFound, UserError
from enclave.service._projects import validate_rules
from enclave.service._validate import (
    PROJECT_ID,
    ROLES,
    USER_ID,
    positive,
    review_status,
    validate_id,
)

if TYPE_CHECKING:
    from enclave.policy import DatasetPolicy, ProjectPolicy

__all__ = ["StewardMixin", "require_steward"]


def require_steward(principal: Any) -> None:
    if principal.role != "steward":
        raise Forbidden("Only a steward may do this; use a steward's token.")


class StewardMixin:
    """Steward actions of ``Service`` (relies on its store and policies)."""

    @property
    def store(self) -> Any:  # pragma: no cover - provided by Service
        raise NotImplementedError

    @property
    def dataset(self) -> DatasetPolicy:  # pragma: no cover
        raise NotImplementedError

    @property
    def file_projects(self) -> dict[str, ProjectPolicy]:  # pragma: no cover
        raise NotImplementedError

    def project_policy(self, project: str) -> ProjectPolicy | None:  # pragma: no cover
        raise NotImplementedError

    def projects_of(self, principal: Any) -> list[str]:  # pragma: no cover
        raise NotImplementedError

    # -- projects --------------------------------------------------------------------
    def apply_project(
        self,
        principal: Any,
        project: str,
        *,
        title: str,
        purpose: str,
        tables: list[str],
        requested_epsilon: float | None,
        applicant: str | None = None,
    ) -> dict[str, Any]:
        """A researcher applies for a project (pending until a steward decides).

        A steward may record an application on a researcher's behalf (``applicant``, an
        existing researcher); the audit record's actor is still the steward.
        """
        if principal.role not in ("researcher", "steward"):
            raise Forbidden("Only researchers (or stewards) may apply for a project.")
        on_behalf = applicant is not None and applicant != principal.user
        if on_behalf and principal.role != "steward":
            raise Forbidden("Only a steward may record an application for someone else.")
        if on_behalf:
            user = self.store.user(applicant)
            if user is None or user["role"] != "researcher":
                raise NotFound(f"No researcher {applicant!r}; add them first (`enclave user add`).")
        validate_id("project id", project, PROJECT_ID)
        if not title or not title.strip():
            raise UserError("Give the project a short title.")
        if not tables:
            raise UserError("Name the tables the project needs, e.g. persons,claims.")
        if requested_epsilon is not None:
            positive("The requested epsilon", requested_epsilon)
        if project in self.file_projects:
            raise Conflict(f"Project id {project!r} is taken; choose another id.")
        for table in tables:
            if self.dataset.table(table) is None:
                known = ", ".join(t.name for t in self.dataset.tables)
                raise NotFound(f"There is no table {table!r}; the dataset has {known}.")
        record = self.store.apply_project(
            project,
            title=title,
            purpose=purpose,
            tables=tuple(tables),
            requested_epsilon=requested_epsilon,
            applicant=applicant if on_behalf else principal.user,
            actor=principal.user,
        )
        return _record_json(record)

    def _ensure_record(self, project: str, steward: str) -> None:
        """Give a policy-file project a store record (so it can be suspended, etc.)."""
        if self.store.project(project) is not None:
            return
        base = self.file_projects.get(project)
        if base is None:
            raise NotFound(f"There is no project {project!r}; see `enclave project list`.")
        self.store.apply_project(
            project,
            title=base.title,
            purpose="defined by a policy file",
            tables=tuple(t for t, _ in base.tables),
            requested_epsilon=base.epsilon,
            applicant=steward,
            status="active",
        )

    def approve_project(
        self, principal: Any, project: str, rules: dict[str, Any], reason: str | None = None
    ) -> dict[str, Any]:
        """Approve a pending application with the rules the steward sets (and why)."""
        require_steward(principal)
        clean = validate_rules(rules, self.dataset)
        record = self.store.project(project)
        if record is None:
            raise NotFound(f"There is no application {project!r}; check `enclave project list`.")
        if not self._has_member(project, record.applicant):
            raise UserError(
                f"Project {project!r} would have no member: its applicant is not a user. "
                "Add the researcher (`enclave user add`) and make them a member first."
            )
        why = reason.strip() if reason and reason.strip() else None
        record = self.store.projects.approve(project, clean, steward=principal.user, reason=why)
        return _record_json(record)

    def _has_member(self, project: str, applicant: str | None) -> bool:
        if applicant and self.store.user(applicant) is not None:
            return True
        base = self.file_projects.get(project)
        return bool(self.store.members(project)) or bool(base is not None and base.members)

    def set_project_status(
        self, principal: Any, project: str, status: str, reason: str | None = None
    ) -> dict[str, Any]:
        """Reject, suspend or reactivate a project (approve has its own method)."""
        require_steward(principal)
        if status not in ("rejected", "suspended", "active"):
            raise UserError("Use approve, reject, suspend or resume.")
        if status == "active" and (rec := self.store.project(project)) and rec.status == "pending":
            raise UserError("Approve a pending application with its rules (`project approve`).")
        self._ensure_record(project, principal.user)
        record = self.store.set_project_status(
            project, status, steward=principal.user, reason=reason
        )
        return _record_json(record)

    def list_projects(self, principal: Any) -> list[dict[str, Any]]:
        """Stewards see every project; researchers their own and their applications."""
        if principal.role == "steward":
            ids = set(self.file_projects) | {r.id for r in self.store.projects.all()}
        elif principal.role == "researcher":
            mine = {r.id for r in self.store.projects.all() if r.applicant == principal.user}
            ids = set(self.projects_of(principal)) | mine
        else:
            raise Forbidden("The public role may only read published releases.")
        return [self.describe_project(p) for p in sorted(ids)]

    def show_project(self, principal: Any, project: str) -> dict[str, Any]:
        if principal.role != "steward":
            allowed = {p["id"] for p in self.list_projects(principal)}
            if project not in allowed:
                raise Forbidden(f"You are not a member of project {project!r}; ask its steward.")
        return self.describe_project(project)

    def describe_project(self, project: str) -> dict[str, Any]:
        record = self.store.project(project)
        if record is None and project not in self.file_projects:
            raise NotFound(f"There is no project {project!r}; check `enclave project list`.")
        policy = self.project_policy(project)
        out: dict[str, Any] = (
            _record_json(record) if record is not None else {"id": project, "status": "active"}
        )
        out["source"] = "policy file" if project in self.file_projects else "store"
        out["policy"] = None if policy is None else _policy_json(policy)
        if policy is not None:
            out.setdefault("title", policy.title)
        return out

    # -- members and users -----------------------------------------------------------
    def add_member(self, principal: Any, project: str, user: str) -> dict[str, Any]:
        require_steward(principal)
        if self.store.user(user) is None:
            raise NotFound(f"No user {user!r}; add the user first (`enclave user add`).")
        self._ensure_record(project, principal.user)
        self.store.add_member(project, user, steward=principal.user)
        return {"project": project, "user": user, "member": True}

    def remove_member(self, principal: Any, project: str, user: str) -> dict[str, Any]:
        require_steward(principal)
        base = self.file_projects.get(project)
        if base is not None and user in base.members:
            raise UserError(
                f"{user!r} is a member through the policy file of {project!r}; remove them "
                "there, or revoke their tokens / suspend the project now."
            )
        self._ensure_record(project, principal.user)
        self.store.remove_member(project, user, steward=principal.user)
        return {"project": project, "user": user, "member": False}

    def add_user(self, principal: Any, user: str, role: str) -> dict[str, Any]:
        require_steward(principal)
        validate_id("user id", user, USER_ID)
        if role not in ROLES:
            raise UserError(f"A role is one of {', '.join(ROLES)}.")
        self.store.add_user(user, role, actor=principal.user)
        return dict(self.store.user(user))

    # -- tokens ----------------------------------------------------------------------
    def issue_token(self, principal: Any, user: str, ttl_days: float | None) -> dict[str, Any]:
        """A new token for ``user``, shown once; with an expiry if ``ttl_days`` is given."""
        require_steward(principal)
        if ttl_days is not None and ttl_days <= 0:
            raise UserError("A token's lifetime must be positive; give days > 0.")
        ttl = None if ttl_days is None else dt.timedelta(days=ttl_days)
        token = self.store.issue_token(user, ttl, actor=principal.user)
        token_id = token.split(".", 1)[0].removeprefix("enc_")
        listed = {t["id"]: t for t in self.store.tokens(user)}
        return {"token": token, "id": token_id, "user": user, **_expiry(listed.get(token_id))}

    def list_tokens(self, principal: Any, user: str) -> list[dict[str, Any]]:
        require_steward(principal)
        if self.store.user(user) is None:
            raise NotFound(f"No user {user!r}; check `enclave user` names.")
        return list(self.store.tokens(user))

    def revoke_token(self, principal: Any, token_id: str) -> dict[str, Any]:
        require_steward(principal)
        self.store.revoke_token(token_id, actor=principal.user)
        return {"id": token_id, "revoked": True}

    # -- budgets ---------------------------------------------------------------------
    def top_up(
        self,
        principal: Any,
        project: str,
        *,
        epsilon: float,
        delta: float = 0.0,
        reason: str,
        member: str | None = None,
    ) -> dict[str, Any]:
        """Add budget to a project (or one member's share), with an audited reason."""
        require_steward(principal)
        for name, value in (("epsilon", epsilon), ("delta", delta)):
            if value < 0:
                raise UserError(f"A top-up cannot be negative ({name}); give a value above 0.")
        if not reason or not reason.strip():
            raise UserError("A top-up needs a reason (it is audited).")
        policy = self.project_policy(project)
        if policy is None:
            raise NotFound(f"Project {project!r} has no approved budget; check the id.")
        if member is not None and member not in policy.members:
            raise NotFound(f"{member!r} is not a member of {project!r}.")
        self.store.top_up(
            project,
            epsilon=epsilon,
            delta=delta,
            reason=reason,
            steward=principal.user,
            member=member,
        )
        from enclave.store import BudgetLimits

        return dataclasses.asdict(self.store.budget(project, BudgetLimits.from_policy(policy)))

    # -- reviews and audit -----------------------------------------------------------
    def list_reviews(self, principal: Any, status: str | None = None) -> list[dict[str, Any]]:
        review_status(status)
        if principal.role == "steward":
            return self.store.reviews.list(status=status)
        if principal.role == "researcher":
            return self.store.reviews.list(status=status, requester=principal.user)
        raise Forbidden("The public role may only read published releases.")

    def decide_review(
        self, principal: Any, review_id: str, *, approve: bool, reason: str | None = None
    ) -> dict[str, Any]:
        require_steward(principal)
        return self.store.reviews.decide(
            review_id, approve=approve, steward=principal.user, reason=reason
        )

    def audit_export(self, principal: Any) -> list[dict[str, Any]]:
        require_steward(principal)
        return list(self.store.export_audit())

    def audit_verify(self, principal: Any) -> dict[str, Any]:
        require_steward(principal)
        return dict(self.store.verify_audit().to_json())


def _record_json(record: Any) -> dict[str, Any]:
    out = dataclasses.asdict(record)
    out["tables"] = list(out["tables"])
    return out


def _policy_json(policy: ProjectPolicy) -> dict[str, Any]:
    out = dataclasses.asdict(policy)
    out["members"] = list(policy.members)
    out["tables"] = {t: list(cols) for t, cols in policy.tables}
    return out


def _expiry(row: dict[str, Any] | None) -> dict[str, Any]:
    return {"expires": None if row is None else row.get("expires")}
