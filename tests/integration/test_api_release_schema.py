"""The release's documented shape over real HTTP: ``POST /v1/queries`` declares
``ReleaseOut`` for its 200 response in OpenAPI, and a real answer has exactly that shape,
``notes`` and ``interval_note`` included (issue 11, point 7)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from enclave.api._models import ReleaseOut
from tests._api_server import RESEARCHER, seeded_server

pytestmark = pytest.mark.slow

AVG_BY_REGION = (
    "SELECT p.region, COUNT(*) AS n, AVG(c.los_days) AS m "
    "FROM claims c JOIN persons p ON p.person_id = c.person_id GROUP BY p.region"
)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    with seeded_server(tmp_path_factory, "schema-home", workers=1) as srv:
        yield srv


def test_openapi_documents_the_release(server: Any) -> None:
    with server.client() as http:
        doc = http.get("/openapi.json").json()
    ok = doc["paths"]["/v1/queries"]["post"]["responses"]["200"]
    ref = ok["content"]["application/json"]["schema"]["$ref"]
    assert ref == "#/components/schemas/ReleaseOut"
    schema = doc["components"]["schemas"]["ReleaseOut"]
    assert {"interval_note", "notes", "bounds", "rows"} <= set(schema["required"])
    assert all(p.get("description") for p in schema["properties"].values())
    note = schema["properties"]["interval_note"]["description"]
    assert "noise" in note and "bias" in note


def test_a_release_has_the_documented_shape(server: Any) -> None:
    body = {"sql": AVG_BY_REGION, "project": "demo", "epsilon": 0.5}
    with server.client(RESEARCHER) as http:
        resp = http.post("/v1/queries", json=body)
    assert resp.status_code == 200, resp.status_code
    out = resp.json()
    assert set(out) == set(ReleaseOut.model_fields)
    release = ReleaseOut.model_validate(out)
    assert "bias" in release.interval_note
    assert all(isinstance(n, str) for n in release.notes)
