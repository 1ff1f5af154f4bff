"""The API fuzzed from its own OpenAPI document (schemathesis) over real HTTP on loopback.

Every operation gets generated requests, valid and invalid, as a steward (who may call
every endpoint): no answer is a 500, every status is one the document lists, every body
has the documented shape and content type, and every refusal is problem JSON with
``error.type`` and ``error.message``.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_schema_conformance,
    status_code_conformance,
)

from enclave.api._errors import PROBLEM
from tests._api_server import STEWARD, seeded_server

pytestmark = pytest.mark.slow

#: generated requests per operation and mode (26 operations, two modes)
EXAMPLES = 20
#: statuses that count as refusing an invalid request: schemathesis's 4xx defaults plus 413
#: (a body over the size limit); server errors are caught by not_a_server_error
NEGATIVE_REFUSALS = [
    *("400", "401", "403", "404", "405", "406", "409", "415", "422", "428", "429"),
    "413",
]

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    negative_data_rejection,
]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    with seeded_server(tmp_path_factory, "fuzz-home", workers=1) as srv:
        yield srv


@pytest.fixture(scope="module")
def api_schema(server: Any) -> Any:
    token = server.tokens[STEWARD]
    config = schemathesis.Config.from_dict(
        {
            "base-url": server.url,
            "auth": {"openapi": {"HTTPBearer": {"bearer": token}}},
            # an invalid request may be refused as too large (413, documented) as well
            "checks": {"negative_data_rejection": {"expected-statuses": NEGATIVE_REFUSALS}},
        }
    )
    return schemathesis.openapi.from_url(server.url + "/openapi.json", config=config)


def _fuzz(operation: Any, mode: GenerationMode) -> list[int]:
    """Statuses of the requests sent to one operation (none in negative mode for one
    without inputs: no invalid request exists)."""
    sent: list[int] = []

    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    def run(case: Any) -> None:
        response = case.call_and_validate(checks=CHECKS, timeout=60)
        sent.append(response.status_code)
        if response.status_code >= 400:
            body = response.json()
            assert response.headers["content-type"][0].startswith(PROBLEM), body

            assert body["status"] == response.status_code
            assert set(body["error"]) == {"type", "message"}

    try:
        run()
    except Unsatisfiable:
        assert mode is GenerationMode.NEGATIVE
    return sent


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
def test_api_conforms_to_its_schema(api_schema: Any, server: Any, mode: GenerationMode) -> None:
    operations = [result.ok() for result in api_schema.get_all_operations()]
    assert len(operations) >= 25
    sent = [_fuzz(operation, mode) for operation in operations]
    assert sum(bool(statuses) for statuses in sent) >= 20
    if mode is GenerationMode.POSITIVE:  # authenticated: many operations answer, not refuse
        assert sum(any(s < 300 for s in statuses) for statuses in sent) >= 12, sent
