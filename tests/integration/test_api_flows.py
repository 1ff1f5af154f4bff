"""Flows over real HTTP: bad input, token expiry and revocation, the review-mode flow,
dry runs and accuracy-first asks, rate limits, project lifecycle."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
import time

import pytest

from enclave.store import open_store
from tests._api_server import OUTSIDER, PUBLIC, RESEARCHER, STEWARD, seeded_server, store_rows

pytestmark = pytest.mark.slow

COUNT = "SELECT sex, COUNT(*) AS n FROM persons GROUP BY sex"
RATE = 150


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    with seeded_server(tmp_path_factory, "flows-home", rate_limit=RATE) as srv:
        yield srv


def _refused(resp, status: int, kind: str) -> str:
    assert resp.status_code == status, resp.status_code
    assert resp.headers["content-type"].startswith("application/problem+json")
    body = resp.json()
    assert body["error"]["type"] == kind
    assert body["status"] == status and body["detail"] == body["error"]["message"]
    return str(body["error"]["message"])


BAD = [
    ("malformed json", "POST", "/v1/queries", b'{"sql": ', RESEARCHER, 400, "UserError"),
    (
        "unknown field",
        "POST",
        "/v1/queries",
        {"sql": COUNT, "project": "demo", "x": 1},
        RESEARCHER,
        422,
        "UserError",
    ),
    (
        "eps and half",
        "POST",
        "/v1/queries",
        {"sql": COUNT, "project": "demo", "epsilon": 1, "half_width": 3},
        RESEARCHER,
        422,
        "UserError",
    ),
    (
        "negative eps",
        "POST",
        "/v1/queries",
        {"sql": COUNT, "project": "demo", "epsilon": -1},
        RESEARCHER,
        422,
        "UserError",
    ),
    (
        "wrong type",
        "POST",
        "/v1/queries",
        {"sql": 5, "project": "demo"},
        RESEARCHER,
        422,
        "UserError",
    ),
    (
        "other project",
        "POST",
        "/v1/queries",
        {"sql": COUNT, "project": "pharmacy", "epsilon": 0.1},
        RESEARCHER,
        403,
        "Forbidden",
    ),
    (
        "missing project",
        "POST",
        "/v1/queries",
        {"sql": COUNT, "project": "nope", "epsilon": 0.1},
        RESEARCHER,
        404,
        "NotFound",
    ),
    (
        "bad sql",
        "POST",
        "/v1/queries",
        {"sql": "DELETE FROM persons", "project": "demo"},
        RESEARCHER,
        422,
        "QueryRejected",
    ),
    (
        "row read",
        "POST",
        "/v1/queries",
        {"sql": "SELECT * FROM persons", "project": "demo"},
        RESEARCHER,
        422,
        "QueryRejected",
    ),
    (
        "over cap",
        "POST",
        "/v1/queries",
        {"sql": COUNT, "project": "demo", "epsilon": 5},
        RESEARCHER,
        403,
        "PolicyViolation",
    ),
    (
        "approve missing",
        "POST",
        "/v1/projects/nope/approve",
        {"tables": {"persons": ["*"]}, "epsilon": 1, "max_epsilon_per_query": 1},
        STEWARD,
        404,
        "NotFound",
    ),
    ("suspend missing", "POST", "/v1/projects/nope/suspend", {}, STEWARD, 404, "NotFound"),
    (
        "member missing",
        "POST",
        "/v1/projects/nope/members",
        {"user": OUTSIDER},
        STEWARD,
        404,
        "NotFound",
    ),
    (
        "top-up missing",
        "POST",
        "/v1/projects/nope/budget/top-ups",
        {"epsilon": 1, "reason": "r"},
        STEWARD,
        404,
        "NotFound",
    ),
    (
        "negative top-up",
        "POST",
        "/v1/projects/demo/budget/top-ups",
        {"epsilon": -1, "reason": "r"},
        STEWARD,
        422,
        "UserError",
    ),
    (
        "top-up no reason",
        "POST",
        "/v1/projects/demo/budget/top-ups",
        {"epsilon": 1},
        STEWARD,
        422,
        "UserError",
    ),
    (
        "zero top-up",
        "POST",
        "/v1/projects/demo/budget/top-ups",
        {"epsilon": 0, "reason": "r"},
        STEWARD,
        400,
        "UserError",
    ),
    (
        "user exists",
        "POST",
        "/v1/users",
        {"id": RESEARCHER, "role": "researcher"},
        STEWARD,
        409,
        "Conflict",
    ),
    ("bad role", "POST", "/v1/users", {"id": "x", "role": "admin"}, STEWARD, 422, "UserError"),
    ("revoke missing", "DELETE", "/v1/tokens/0123456789abcdef", None, STEWARD, 404, "NotFound"),
    ("approve empty body", "POST", "/v1/projects/demo/approve", {}, STEWARD, 422, "UserError"),
    ("unknown route", "GET", "/v1/nothing", None, RESEARCHER, 404, "NotFound"),
    (
        "bad approval table",
        "POST",
        "/v1/projects/nope/approve",
        {"tables": {"secrets": ["*"]}, "epsilon": 1, "max_epsilon_per_query": 1},
        STEWARD,
        404,
        "NotFound",
    ),
]


@pytest.mark.parametrize("case", BAD, ids=[c[0] for c in BAD])
def test_bad_input_gets_right_status_and_changes_nothing(server, case):
    _, method, path, body, who, status, kind = case
    before = store_rows(server.settings)
    with server.client(who) as http:
        if isinstance(body, bytes):
            resp = http.request(
                method, path, content=body, headers={"content-type": "application/json"}
            )
        else:
            resp = http.request(method, path, json=body)
    message = _refused(resp, status, kind)
    assert len(message) > 20  # says what to do, not just a code
    assert store_rows(server.settings) == before


def test_oversize_body_is_413_before_auth(server):
    big = {"sql": "SELECT COUNT(*) AS n FROM persons WHERE " + " OR ".join(["sex = 'F'"] * 8000)}
    with server.client(RESEARCHER) as http:
        resp = http.post("/v1/queries", json=big)
        _refused(resp, 413, "UserError")
        chunked = http.post("/v1/queries", content=iter([b"{" + b" " * 70_000 + b"}"]))
        assert chunked.status_code == 413


def test_conflict_on_second_approval(server):
    pid = "conflict-demo"
    with server.client(RESEARCHER) as r, server.client(STEWARD) as s:
        app = {"id": pid, "title": "t", "purpose": "p", "tables": ["persons"], "epsilon": 1}
        assert r.post("/v1/projects", json=app).status_code == 201
        assert r.post("/v1/projects", json=app).status_code == 409
        rules = {"tables": {"persons": ["*"]}, "epsilon": 1, "max_epsilon_per_query": 0.5}
        assert s.post(f"/v1/projects/{pid}/approve", json=rules).status_code == 200
        before = store_rows(server.settings)
        _refused(s.post(f"/v1/projects/{pid}/approve", json=rules), 409, "Conflict")
        assert store_rows(server.settings) == before


def test_missing_and_malformed_tokens_are_401(server):
    with server.client() as http:
        for headers in ({}, {"Authorization": "Bearer nonsense"}, {"Authorization": "Basic abc"}):
            resp = http.get("/v1/me", headers=headers)
            assert _refused(resp, 401, "Unauthorized")
            assert resp.headers["www-authenticate"] == "Bearer"
        forged = server.tokens[RESEARCHER][:-4] + "AAAA"
        _refused(
            http.get("/v1/me", headers={"Authorization": f"Bearer {forged}"}), 401, "Unauthorized"
        )


def test_token_expiry(server):
    with open_store(server.settings) as store:
        token = store.accounts.issue_token(OUTSIDER, dt.timedelta(seconds=1.5), actor="test")
    with server.client() as http:
        auth = {"Authorization": f"Bearer {token}"}
        assert http.get("/v1/me", headers=auth).status_code == 200
        time.sleep(1.6)
        for _ in range(4):  # every worker refuses it
            assert "expired" in _refused(http.get("/v1/me", headers=auth), 401, "Unauthorized")


def test_token_revocation_takes_effect_in_every_worker(server):
    with server.client(STEWARD) as s:
        issued = s.post("/v1/tokens", json={"user": PUBLIC}).json()
        listed = s.get(f"/v1/users/{PUBLIC}/tokens").json()["tokens"]
        assert issued["id"] in {t["id"] for t in listed}
        assert all("hash" not in t and "token" not in t for t in listed)
        auth = {"Authorization": f"Bearer {issued['token']}"}
        for _ in range(6):
            assert s.get("/v1/me", headers=auth).status_code == 200
        assert s.delete(f"/v1/tokens/{issued['id']}").status_code == 200
        for _ in range(6):
            assert "revoked" in _refused(s.get("/v1/me", headers=auth), 401, "Unauthorized")


def test_dry_run_spends_nothing_and_accuracy_first_charges_what_it_said(server):
    sql = "SELECT region, COUNT(*) AS n FROM persons GROUP BY region"
    with server.client(RESEARCHER) as http:
        before = http.get("/v1/projects/demo/budget").json()["epsilon_spent"]
        cost = http.post(
            "/v1/queries/dry-run", json={"sql": sql, "project": "demo", "half_width": 5000}
        )
        assert cost.status_code == 200
        est = cost.json()
        assert 0 < est["epsilon"] <= 1 and est["half_widths"]["n"] == pytest.approx(5000, rel=0.01)
        assert http.get("/v1/projects/demo/budget").json()["epsilon_spent"] == before
        asked = http.post("/v1/queries", json={"sql": sql, "project": "demo", "half_width": 5000})
        assert asked.status_code == 200
        rel = asked.json()
        assert rel["epsilon_spent"] == pytest.approx(est["epsilon"])
        assert rel["columns"][:5] == ["region", "n", "n_se", "n_ci_low", "n_ci_high"]
        after = http.get("/v1/projects/demo/budget").json()["epsilon_spent"]
        assert after == pytest.approx(before + est["epsilon"], abs=2e-6)
        again = http.post("/v1/queries", json={"sql": sql, "project": "demo", "half_width": 5000})
        assert again.json()["cached"] is True and again.json()["epsilon_spent"] == 0
        assert again.json()["rows"] == rel["rows"]


def test_review_mode_flow(server):
    pid = "nope-review"
    rules = {
        "tables": {"persons": ["*"]},
        "epsilon": 5,
        "max_epsilon_per_query": 2,
        "review_epsilon": 0.5,
    }
    app = {"id": pid, "title": "t", "purpose": "p", "tables": ["persons"], "epsilon": 5}
    ask = {"sql": COUNT, "project": pid, "epsilon": 1.0}
    with server.client(RESEARCHER) as r, server.client(STEWARD) as s:
        assert r.post("/v1/projects", json=app).status_code == 201
        _refused(r.post("/v1/queries", json={**ask, "epsilon": 0.1}), 403, "Forbidden")  # pending
        assert s.post(f"/v1/projects/{pid}/approve", json=rules).status_code == 200
        assert (
            r.post("/v1/queries", json={**ask, "epsilon": 0.2}).status_code == 200
        )  # small: no review
        _refused(r.post("/v1/queries", json=ask), 403, "PolicyViolation")
        _refused(r.post("/v1/reviews", json={**ask, "epsilon": 0.2}), 400, "UserError")
        review = r.post("/v1/reviews", json=ask)
        assert review.status_code == 201 and review.json()["status"] == "pending"
        # the refusal's advice works from the CLI too: the same review, through the entry point
        cli = subprocess.run(
            [
                sys.executable,
                "-m",
                "enclave",
                "query",
                COUNT,
                "--project",
                pid,
                "--epsilon",
                "1.0",
                "--submit-review",
                "--json",
                "--url",
                server.url,
                "--token",
                server.tokens[RESEARCHER],
            ],
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert cli.returncode == 0, cli.stderr[-500:]
        assert json.loads(cli.stdout)["id"] == review.json()["id"]
        assert r.post("/v1/reviews", json=ask).json()["id"] == review.json()["id"]
        _refused(r.post("/v1/queries", json=ask), 403, "PolicyViolation")
        pending = s.get("/v1/reviews", params={"status": "pending"}).json()["reviews"]
        assert [p["sql"] for p in pending if p["id"] == review.json()["id"]] == [COUNT]
        rid = review.json()["id"]
        assert s.post(f"/v1/reviews/{rid}/approve", json={"reason": "ok"}).status_code == 200
        _refused(s.post(f"/v1/reviews/{rid}/reject", json={}), 409, "Conflict")
        answered = r.post("/v1/queries", json=ask)
        assert answered.status_code == 200 and answered.json()["epsilon_spent"] == 1.0
        _refused(r.post("/v1/queries", json={**ask, "epsilon": 1.5}), 403, "PolicyViolation")
        other = r.post("/v1/reviews", json={**ask, "epsilon": 1.5}).json()["id"]
        assert s.post(f"/v1/reviews/{other}/reject", json={}).json()["status"] == "rejected"
        _refused(r.post("/v1/queries", json={**ask, "epsilon": 1.5}), 403, "PolicyViolation")
        # suspension stops queries at once; resuming restores them
        assert s.post(f"/v1/projects/{pid}/suspend", json={"reason": "audit"}).status_code == 200
        _refused(r.post("/v1/queries", json={**ask, "epsilon": 0.3}), 403, "Forbidden")
        assert s.post(f"/v1/projects/{pid}/resume", json={}).status_code == 200
        assert r.post("/v1/queries", json={**ask, "epsilon": 0.3}).status_code == 200
        budget = r.get(f"/v1/projects/{pid}/budget").json()
        assert budget["epsilon_spent"] == pytest.approx(1.5)


def test_members_and_top_ups(server):
    with server.client(STEWARD) as s, server.client(OUTSIDER) as o:
        ask = {"sql": COUNT, "project": "pharmacy", "epsilon": 0.1}
        _refused(o.post("/v1/queries", json=ask), 403, "Forbidden")
        assert s.post("/v1/projects/pharmacy/members", json={"user": OUTSIDER}).status_code == 201
        assert o.post("/v1/queries", json=ask).status_code == 200
        total = o.get("/v1/projects/pharmacy/budget").json()["epsilon_total"]
        up = s.post(
            "/v1/projects/pharmacy/budget/top-ups", json={"epsilon": 2, "reason": "renewal"}
        )
        assert up.status_code == 201 and up.json()["epsilon_total"] == pytest.approx(total + 2)
        assert s.delete(f"/v1/projects/pharmacy/members/{OUTSIDER}").status_code == 200
        _refused(o.post("/v1/queries", json=ask), 403, "Forbidden")
        audit = s.get("/v1/audit").json()["records"]
        assert any(r["action"] == "top_up" and r["detail"] == "renewal" for r in audit)
        assert s.get("/v1/audit/verify").json()["ok"] is True


def test_rate_limit_per_token(server):
    with open_store(server.settings) as store:
        token = store.accounts.issue_token(PUBLIC, actor="test")
    with server.client() as http:
        auth = {"Authorization": f"Bearer {token}"}
        codes = []
        for _ in range(2 * RATE + 5):  # a fixed window: at most two windows are touched
            codes.append(http.get("/v1/me", headers=auth).status_code)
            if codes[-1] == 429:
                break
        assert codes[-1] == 429 and set(codes) <= {200, 429}
        assert codes.count(200) >= RATE
        resp = http.get("/v1/me", headers=auth)
        assert _refused(resp, 429, "RateLimited") and resp.headers["retry-after"]
        # another token is not affected
        other = {"Authorization": f"Bearer {server.tokens[PUBLIC]}"}
        assert http.get("/v1/me", headers=other).status_code == 200


def test_openapi_lists_contract_endpoints(server):
    with server.client() as http:
        paths = http.get("/openapi.json").json()["paths"]
    for path in (
        "/v1/queries",
        "/v1/queries/dry-run",
        "/v1/projects/{project}/budget",
        "/v1/releases/public",
        "/healthz",
    ):
        assert path in paths
