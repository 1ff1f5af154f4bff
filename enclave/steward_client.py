"""The steward's client: every steward action of ``Service`` over HTTP.

Each method has the name and arguments of the ``Service`` method it mirrors, without the
acting principal (the server takes it from the token), and returns the same JSON, so the
CLI prints the same thing locally and against a server.

>>> from enclave import StewardClient
>>> steward = StewardClient("http://127.0.0.1:8000", token="...")  # doctest: +SKIP
>>> steward.add_user("alice@uni", "researcher")  # doctest: +SKIP
{'id': 'alice@uni', 'role': 'researcher', 'created': '...'}
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from enclave.client import Client

__all__ = ["StewardClient"]


def _q(part: str) -> str:
    return quote(part, safe="")


class StewardClient(Client):
    """An enclave over HTTP with a steward's token (researcher methods work too)."""

    def __repr__(self) -> str:  # never show the token
        return f"StewardClient({self.url!r})"

    # -- projects --------------------------------------------------------------------
    def list_projects(self) -> list[dict[str, Any]]:
        return list(self.request("GET", "/v1/projects")["projects"])

    def show_project(self, project: str) -> dict[str, Any]:
        return dict(self.request("GET", f"/v1/projects/{_q(project)}"))

    def apply_project(
        self,
        project: str,
        *,
        title: str,
        purpose: str,
        tables: list[str],
        requested_epsilon: float | None,
        applicant: str | None = None,
    ) -> dict[str, Any]:
        body: dict[str, Any] = {"id": project, "title": title, "purpose": purpose}
        body |= {"tables": tables, "epsilon": requested_epsilon}
        if applicant is not None:
            body["applicant"] = applicant
        return dict(self.request("POST", "/v1/projects", body))

    def approve_project(
        self, project: str, rules: dict[str, Any], reason: str | None = None
    ) -> dict[str, Any]:
        body = {k: v for k, v in rules.items() if v is not None} | {"reason": reason}
        return dict(self.request("POST", f"/v1/projects/{_q(project)}/approve", body))

    def set_project_status(
        self, project: str, status: str, reason: str | None = None
    ) -> dict[str, Any]:
        verb = {"rejected": "reject", "suspended": "suspend", "active": "resume"}.get(status)
        if verb is None:
            from enclave.errors import UserError

            raise UserError("Use approve, reject, suspend or resume.")
        path = f"/v1/projects/{_q(project)}/{verb}"
        return dict(self.request("POST", path, {"reason": reason}))

    # -- members, users, tokens ------------------------------------------------------
    def add_member(self, project: str, user: str) -> dict[str, Any]:
        return dict(self.request("POST", f"/v1/projects/{_q(project)}/members", {"user": user}))

    def remove_member(self, project: str, user: str) -> dict[str, Any]:
        path = f"/v1/projects/{_q(project)}/members/{_q(user)}"
        return dict(self.request("DELETE", path))

    def add_user(self, user: str, role: str) -> dict[str, Any]:
        return dict(self.request("POST", "/v1/users", {"id": user, "role": role}))

    def list_users(self) -> list[dict[str, Any]]:
        return list(self.request("GET", "/v1/users")["users"])

    def issue_token(self, user: str, ttl_days: float | None) -> dict[str, Any]:
        return dict(self.request("POST", "/v1/tokens", {"user": user, "ttl_days": ttl_days}))

    def list_tokens(self, user: str) -> list[dict[str, Any]]:
        return list(self.request("GET", f"/v1/users/{_q(user)}/tokens")["tokens"])

    def revoke_token(self, token_id: str) -> dict[str, Any]:
        return dict(self.request("DELETE", f"/v1/tokens/{_q(token_id)}"))

    # -- budgets, reviews, audit -----------------------------------------------------
    def top_up(
        self,
        project: str,
        *,
        epsilon: float,
        delta: float = 0.0,
        reason: str,
        member: str | None = None,
    ) -> dict[str, Any]:
        body = {"epsilon": epsilon, "delta": delta, "reason": reason, "member": member}
        return dict(self.request("POST", f"/v1/projects/{_q(project)}/budget/top-ups", body))

    def project_budget(self, project: str, member: str | None = None) -> dict[str, Any]:
        path = f"/v1/projects/{_q(project)}/budget"
        return dict(self.request("GET", path, user=member))

    def list_reviews(self, status: str | None = None) -> list[dict[str, Any]]:
        return list(self.request("GET", "/v1/reviews", status=status)["reviews"])

    def decide_review(
        self, review_id: str, *, approve: bool, reason: str | None = None
    ) -> dict[str, Any]:
        verb = "approve" if approve else "reject"
        path = f"/v1/reviews/{_q(review_id)}/{verb}"
        return dict(self.request("POST", path, {"reason": reason}))

    def audit_export(self) -> list[dict[str, Any]]:
        return list(self.request("GET", "/v1/audit")["records"])

    def audit_verify(self) -> dict[str, Any]:
        return dict(self.request("GET", "/v1/audit/verify"))
