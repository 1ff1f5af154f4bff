"""Steward endpoints: applications and approvals, members, users, tokens, top-ups,
review decisions, audit export and verification."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from enclave.api._deps import Caller, Steward, Svc
from enclave.api._docs import AUTHED, BODY, answers
from enclave.api._models import (
    ApplicationBody,
    ApprovalBody,
    DecisionBody,
    MemberBody,
    TokenBody,
    TopUpBody,
    UserBody,
)
from enclave.api._responses import (
    AuditOut,
    AuditVerifyOut,
    BudgetOut,
    MembershipOut,
    NewTokenOut,
    ProjectOut,
    ProjectsOut,
    ReviewOut,
    RevokedOut,
    TokensOut,
    UserOut,
    UsersOut,
)

__all__ = ["router"]

_projects = APIRouter(tags=["projects"])
_budgets = APIRouter(tags=["budgets"])
_accounts = APIRouter(tags=["accounts"])
_reviews = APIRouter(tags=["reviews"])
_audit = APIRouter(tags=["audit"])


@_projects.get("/projects", **answers(ProjectsOut, *AUTHED), summary="Projects you may see")
def list_projects(svc: Svc, who: Caller) -> dict[str, Any]:
    return {"projects": svc.list_projects(who)}


@_projects.post(
    "/projects",
    **answers(ProjectOut, *BODY, 409, status=201),
    summary="Apply for a project",
)
def apply(body: ApplicationBody, svc: Svc, who: Caller) -> dict[str, Any]:
    return svc.apply_project(
        who,
        body.id,
        title=body.title,
        purpose=body.purpose,
        tables=body.tables,
        requested_epsilon=body.epsilon,
        applicant=body.applicant,
    )


@_projects.get(
    "/projects/{project}",
    **answers(ProjectOut, *AUTHED),
    summary="One project and its rules",
)
def show(project: str, svc: Svc, who: Caller) -> dict[str, Any]:
    return svc.show_project(who, project)


@_projects.post(
    "/projects/{project}/approve",
    **answers(ProjectOut, *BODY, 409),
    summary="Approve an application",
)
def approve(project: str, body: ApprovalBody, svc: Svc, who: Steward) -> dict[str, Any]:
    rules = body.model_dump(exclude={"reason"})
    return svc.approve_project(who, project, rules, reason=body.reason)


@_projects.post("/projects/{project}/reject", **answers(ProjectOut, *BODY, 409))
def reject(project: str, body: DecisionBody, svc: Svc, who: Steward) -> dict[str, Any]:
    return svc.set_project_status(who, project, "rejected", body.reason)


@_projects.post("/projects/{project}/suspend", **answers(ProjectOut, *BODY, 409))
def suspend(project: str, body: DecisionBody, svc: Svc, who: Steward) -> dict[str, Any]:
    return svc.set_project_status(who, project, "suspended", body.reason)


@_projects.post("/projects/{project}/resume", **answers(ProjectOut, *BODY, 409))
def resume(project: str, body: DecisionBody, svc: Svc, who: Steward) -> dict[str, Any]:
    return svc.set_project_status(who, project, "active", body.reason)


@_projects.post(
    "/projects/{project}/members",
    **answers(MembershipOut, *BODY, 409, status=201),
)
def add_member(project: str, body: MemberBody, svc: Svc, who: Steward) -> dict[str, Any]:
    return svc.add_member(who, project, body.user)


@_projects.delete("/projects/{project}/members/{user}", **answers(MembershipOut, *AUTHED, 409))
def remove_member(project: str, user: str, svc: Svc, who: Steward) -> dict[str, Any]:
    return svc.remove_member(who, project, user)


@_budgets.post(
    "/projects/{project}/budget/top-ups",
    **answers(BudgetOut, *BODY, 409, status=201),
)
def top_up(project: str, body: TopUpBody, svc: Svc, who: Steward) -> dict[str, Any]:
    """Add ε (and δ) to a project, or to one member's share, with an audited reason."""
    return svc.top_up(who, project, **body.model_dump())


@_accounts.post(
    "/users",
    **answers(UserOut, *BODY, 409, status=201),
    summary="Add a user with a role",
)
def add_user(body: UserBody, svc: Svc, who: Steward) -> dict[str, Any]:
    return svc.add_user(who, body.id, body.role)


@_accounts.get("/users", **answers(UsersOut, *AUTHED))
def list_users(svc: Svc, who: Steward) -> dict[str, Any]:
    return {"users": svc.store.accounts.users()}


@_accounts.post(
    "/tokens",
    **answers(NewTokenOut, *BODY, 409, status=201),
    summary="Issue a token (shown once)",
)
def issue_token(body: TokenBody, svc: Svc, who: Steward) -> dict[str, Any]:
    return svc.issue_token(who, body.user, body.ttl_days)


@_accounts.get(
    "/users/{user}/tokens",
    **answers(TokensOut, *AUTHED),
    summary="A user's tokens (no secrets)",
)
def list_tokens(user: str, svc: Svc, who: Steward) -> dict[str, Any]:
    return {"tokens": svc.list_tokens(who, user)}


@_accounts.delete(
    "/tokens/{token_id}",
    **answers(RevokedOut, *AUTHED, 409),
    summary="Revoke a token at once",
)
def revoke_token(token_id: str, svc: Svc, who: Steward) -> dict[str, Any]:
    return svc.revoke_token(who, token_id)


@_reviews.post("/reviews/{review_id}/approve", **answers(ReviewOut, *BODY, 409))
def approve_review(review_id: str, body: DecisionBody, svc: Svc, who: Steward) -> dict[str, Any]:
    return svc.decide_review(who, review_id, approve=True, reason=body.reason)


@_reviews.post("/reviews/{review_id}/reject", **answers(ReviewOut, *BODY, 409))
def reject_review(review_id: str, body: DecisionBody, svc: Svc, who: Steward) -> dict[str, Any]:
    return svc.decide_review(who, review_id, approve=False, reason=body.reason)


@_audit.get(
    "/audit",
    **answers(AuditOut, *AUTHED),
    summary="Export the hash-chained audit log",
)
def audit_export(svc: Svc, who: Steward) -> dict[str, Any]:
    return {"records": svc.audit_export(who)}


@_audit.get(
    "/audit/verify",
    **answers(AuditVerifyOut, *AUTHED),
    summary="Verify the audit chain",
)
def audit_verify(svc: Svc, who: Steward) -> dict[str, Any]:
    return svc.audit_verify(who)


router = APIRouter(prefix="/v1")
for _part in (_projects, _budgets, _accounts, _reviews, _audit):
    router.include_router(_part)
