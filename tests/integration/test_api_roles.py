"""Every role × every endpoint over real HTTP (uvicorn, 2 workers, loopback).

Allowed calls get their success status; forbidden ones 401 (no token) or 403 (wrong role
or project), and a refused call leaves the store as it was.
"""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from enclave.service import Service
from enclave.store import Principal
from tests._api_server import OUTSIDER, PUBLIC, RESEARCHER, STEWARD, seeded_server, store_rows

pytestmark = pytest.mark.slow

ANON = "anonymous"
ROLES = (ANON, PUBLIC, RESEARCHER, OUTSIDER, STEWARD)
Q = {
    "sql": "SELECT sex, COUNT(*) AS n FROM persons GROUP BY sex",
    "project": "demo",
    "epsilon": 0.1,
}
_ids = itertools.count()


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    with seeded_server(tmp_path_factory, "roles-home") as srv:
        yield srv


def _svc(server) -> Service:
    return Service(server.settings)


STEW = Principal(user=STEWARD, role="steward", token_id="test")


def _pending(server) -> str:
    pid = f"p-{next(_ids)}-{uuid.uuid4().hex[:6]}"
    _svc(server).apply_project(
        Principal(user=RESEARCHER, role="researcher", token_id="t"),
        pid,
        title="t",
        purpose="p",
        tables=["persons"],
        requested_epsilon=1.0,
    )
    return pid


def _active(server) -> str:
    pid = _pending(server)
    rules = {"tables": {"persons": ["*"]}, "epsilon": 2.0, "max_epsilon_per_query": 1.0}
    _svc(server).approve_project(STEW, pid, rules)
    return pid


def _token_id(server) -> str:
    out = _svc(server).issue_token(STEW, PUBLIC, None)
    return str(out["id"])


def _review(server) -> str:
    row = _svc(server).store.reviews.submit(
        project="demo",
        requester=RESEARCHER,
        cache_key=uuid.uuid4().hex,
        sql="SELECT COUNT(*) AS n FROM persons",
        epsilon=3.0,
        half_width=None,
        plan_epsilon=3.0,
    )
    return str(row["id"])


@dataclass(frozen=True)
class Case:
    method: str
    path: Callable[[Any], str] | str
    body: dict[str, Any] | Callable[[Any], dict[str, Any]] | None
    ok: dict[str, int]  # role -> expected status when allowed; others get 401/403

    def resolve(self, server) -> tuple[str, dict[str, Any] | None]:
        path = self.path(server) if callable(self.path) else self.path
        body = self.body(server) if callable(self.body) else self.body
        return path, body


ALL = dict.fromkeys(ROLES, 200)
SIGNED_IN = {r: 200 for r in ROLES if r != ANON}
STEWARD_ONLY = {STEWARD: 200}


def _apply_body(_: Any) -> dict[str, Any]:
    pid = f"a-{next(_ids)}-{uuid.uuid4().hex[:6]}"
    return {"id": pid, "title": "t", "purpose": "p", "tables": ["persons"], "epsilon": 1.0}


CASES = {
    "healthz": Case("GET", "/healthz", None, ALL),
    "openapi": Case("GET", "/openapi.json", None, ALL),
    "public releases": Case("GET", "/v1/releases/public", None, ALL),
    "me": Case("GET", "/v1/me", None, SIGNED_IN),
    "query": Case("POST", "/v1/queries", Q, {RESEARCHER: 200}),
    "dry_run": Case("POST", "/v1/queries/dry-run", Q, {RESEARCHER: 200}),
    "budget": Case("GET", "/v1/projects/demo/budget", None, {RESEARCHER: 200, STEWARD: 200}),
    "projects": Case("GET", "/v1/projects", None, {RESEARCHER: 200, OUTSIDER: 200, STEWARD: 200}),
    "project": Case("GET", "/v1/projects/demo", None, {RESEARCHER: 200, STEWARD: 200}),
    "reviews": Case("GET", "/v1/reviews", None, {RESEARCHER: 200, OUTSIDER: 200, STEWARD: 200}),
    "apply": Case(
        "POST", "/v1/projects", _apply_body, {RESEARCHER: 201, OUTSIDER: 201, STEWARD: 201}
    ),
    "approve": Case(
        "POST",
        lambda s: f"/v1/projects/{_pending(s)}/approve",
        {"tables": {"persons": ["*"]}, "epsilon": 1.0, "max_epsilon_per_query": 0.5},
        STEWARD_ONLY,
    ),
    "reject": Case("POST", lambda s: f"/v1/projects/{_pending(s)}/reject", {}, STEWARD_ONLY),
    "suspend": Case("POST", lambda s: f"/v1/projects/{_active(s)}/suspend", {}, STEWARD_ONLY),
    "add member": Case(
        "POST", lambda s: f"/v1/projects/{_active(s)}/members", {"user": OUTSIDER}, {STEWARD: 201}
    ),
    "remove member": Case(
        "DELETE", lambda s: f"/v1/projects/{_active(s)}/members/{RESEARCHER}", None, STEWARD_ONLY
    ),
    "top-up": Case(
        "POST",
        lambda s: f"/v1/projects/{_active(s)}/budget/top-ups",
        {"epsilon": 0.5, "reason": "more weeks"},
        {STEWARD: 201},
    ),
    "add user": Case(
        "POST",
        "/v1/users",
        lambda s: {"id": f"u{uuid.uuid4().hex[:8]}", "role": "researcher"},
        {STEWARD: 201},
    ),
    "users": Case("GET", "/v1/users", None, STEWARD_ONLY),
    "issue token": Case("POST", "/v1/tokens", {"user": OUTSIDER, "ttl_days": 1}, {STEWARD: 201}),
    "list tokens": Case("GET", f"/v1/users/{RESEARCHER}/tokens", None, STEWARD_ONLY),
    "revoke token": Case("DELETE", lambda s: f"/v1/tokens/{_token_id(s)}", None, STEWARD_ONLY),
    "approve review": Case("POST", lambda s: f"/v1/reviews/{_review(s)}/approve", {}, STEWARD_ONLY),
    "reject review": Case("POST", lambda s: f"/v1/reviews/{_review(s)}/reject", {}, STEWARD_ONLY),
    "audit": Case("GET", "/v1/audit", None, STEWARD_ONLY),
    "audit verify": Case("GET", "/v1/audit/verify", None, STEWARD_ONLY),
}


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("name", list(CASES))
def test_role_endpoint(server, name, role):
    case = CASES[name]
    path, body = case.resolve(server)
    before = store_rows(server.settings)
    with server.client(None if role == ANON else role) as http:
        resp = http.request(case.method, path, json=body)
    expected = case.ok.get(role, 401 if role == ANON else 403)
    assert resp.status_code == expected, (name, role, resp.status_code)
    if expected >= 400:
        problem = resp.json()
        assert problem["error"]["type"] in ("Unauthorized", "Forbidden")
        assert resp.headers["content-type"].startswith("application/problem+json")
        assert problem["error"]["message"]
        assert store_rows(server.settings) == before
