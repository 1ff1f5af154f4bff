"""The API's documentation over real HTTP on loopback: an OpenAPI document a client
generator can use (a response model for every operation, problem JSON per refusal status,
examples), /docs and /redoc served from local assets only (they work with no internet),
and strict requests (no string-to-number coercion, a body without Content-Type told what
to send, unknown query parameters refused)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest

from tests._api_server import RESEARCHER, STEWARD, seeded_server

pytestmark = pytest.mark.slow

PROBLEM = "application/problem+json"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    with seeded_server(tmp_path_factory, "docs-home", workers=1) as srv:
        yield srv


@pytest.fixture(scope="module")
def doc(server: Any) -> dict[str, Any]:
    with server.client() as http:
        return http.get("/openapi.json").json()


def _operations(doc: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, ops in doc["paths"].items():
        for method, op in ops.items():
            yield path, method, op


def test_every_operation_documents_its_answer(doc: dict[str, Any]) -> None:
    ops = list(_operations(doc))
    assert len(ops) >= 25
    for path, method, op in ops:
        ok = [c for c in op["responses"] if c.startswith("2")]
        assert len(ok) == 1, (method, path)
        schema = op["responses"][ok[0]]["content"]["application/json"]["schema"]
        assert schema.get("$ref", "").startswith("#/components/schemas/"), (method, path)


def test_refusals_are_documented_as_problem_json(doc: dict[str, Any]) -> None:
    assert "HTTPValidationError" not in doc["components"]["schemas"]
    for path, method, op in _operations(doc):
        refusals = {c: r for c, r in op["responses"].items() if int(c) >= 400}
        assert "500" in refusals, (method, path)
        if op.get("security"):
            assert {"401", "403", "404", "429"} <= set(refusals), (method, path)
        if "requestBody" in op:
            assert {"400", "413", "422"} <= set(refusals), (method, path)
        for resp in refusals.values():
            assert list(resp["content"]) == [PROBLEM]
            assert resp["content"][PROBLEM]["schema"]["$ref"].endswith("/ProblemOut")
            assert resp["description"]
    problem = doc["components"]["schemas"]["ProblemOut"]
    assert {"type", "title", "status", "detail", "error"} <= set(problem["required"])


def test_main_requests_have_examples_and_strict_numbers(doc: dict[str, Any]) -> None:
    schemas = doc["components"]["schemas"]
    for name in ("QueryBody", "ApplicationBody", "ApprovalBody", "TopUpBody", "TokenBody"):
        assert schemas[name]["examples"], name
        assert schemas[name]["additionalProperties"] is False, name
    eps = schemas["QueryBody"]["properties"]["epsilon"]["anyOf"]
    assert {"type": "null"} in eps and any(e.get("type") == "number" for e in eps)


@pytest.mark.parametrize("page", ["/docs", "/redoc"])
def test_docs_pages_use_local_assets_only(server: Any, page: str) -> None:
    with server.client() as http:
        html = http.get(page).text
        refs = re.findall(r'(?:src|href)="([^"]+)"', html)
        assert refs and all(r.startswith("/docs-assets/") for r in refs), refs
        assert "https://" not in html and "http://" not in html
        for ref in refs:
            asset = http.get(ref)
            assert asset.status_code == 200 and len(asset.content) > 1000, ref
        assert "/openapi.json" in html


def test_string_numbers_are_refused_and_spend_nothing(server: Any) -> None:
    body = {"sql": "SELECT COUNT(*) AS n FROM persons", "project": "demo", "epsilon": "0.1"}
    with server.client(RESEARCHER) as http:
        before = http.get("/v1/projects/demo/budget").json()["epsilon_spent"]
        resp = http.post("/v1/queries", json=body)
        after = http.get("/v1/projects/demo/budget").json()["epsilon_spent"]
    assert resp.status_code == 422
    assert resp.headers["content-type"].startswith(PROBLEM)
    assert "'epsilon'" in resp.json()["error"]["message"]
    assert after == before


def test_a_body_without_content_type_is_told_what_to_send(server: Any) -> None:
    raw = b'{"sql": "SELECT COUNT(*) AS n FROM persons", "project": "demo"}'
    with server.client(RESEARCHER) as http:
        resp = http.post("/v1/queries/dry-run", content=raw)
        empty = http.post("/v1/queries/dry-run")
    for r in (resp, empty):
        assert r.status_code == 400
        message = r.json()["error"]["message"]
        assert "Content-Type: application/json" in message
        assert "valid dictionary" not in message


def test_unknown_query_parameters_are_refused(server: Any) -> None:
    with server.client(STEWARD) as http:
        resp = http.get("/v1/reviews", params={"statu": "pending"})
        fine = http.get("/v1/reviews", params={"status": "pending"})
    assert resp.status_code == 422
    assert "statu" in resp.json()["error"]["message"]
    assert fine.status_code == 200
