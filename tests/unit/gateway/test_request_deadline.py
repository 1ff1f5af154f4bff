"""One deadline for the whole request (issue 10): the shapes whose work the engine's own
timeout did not cover finish, or are refused without depending on the data, in time.

The warehouse has one person with 2,000 claims, diagnoses and prescriptions (a join of the
three on the person column would give that person 8·10⁹ rows), and the public keys
week × setting × sex give 840 groups for a per-group MEDIAN, which runs in Python after the
SQL; week × setting × region give 9,240 groups, with three quantiles 27,720 quantile releases.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from enclave.errors import QueryRejected
from enclave.gateway import QueryRequest, answer
from enclave.settings import Settings
from tests._release_worlds import gateway, write_world

LIMIT_S = 3.0
SLACK_S = 5.0
JOIN3 = (
    "SELECT COUNT(*) AS n, SUM(x.amount) AS s FROM claims c "
    "JOIN diagnoses d ON d.person_id = c.person_id "
    "JOIN prescriptions x ON x.person_id = c.person_id"
)
WEEK = "date_trunc('week', c.visit_date)"
BY_PERSON = "FROM claims c JOIN persons p ON p.person_id = c.person_id"
MEDIAN_840 = (
    f"SELECT {WEEK} AS w, c.setting, p.sex, MEDIAN(c.amount) AS m {BY_PERSON} GROUP BY 1, 2, 3"
)
MEDIANS_9240 = (
    f"SELECT {WEEK} AS w, c.setting, p.region, MEDIAN(c.amount) AS m, "
    f"MEDIAN(c.los_days) AS l, QUANTILE_CONT(c.amount, 0.9) AS q {BY_PERSON} GROUP BY 1, 2, 3"
)
TIMED_OUT = "The query took longer than"
TOO_MANY_QUANTILES = "MEDIAN / QUANTILE_CONT are released per group"


@pytest.fixture(scope="module")
def ctx(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    root: Path = tmp_path_factory.mktemp("deadline")
    settings = Settings(home=root / "h", query_timeout_s=LIMIT_S)
    settings.ensure_home()
    write_world(settings.warehouse_path, persons=400, heavy=1, heavy_rows=2000)
    ctx = gateway(settings)
    yield ctx
    ctx.engine.close()
    ctx.store.close()


def _timed(ctx: Any, sql: str) -> tuple[str, float]:
    request = QueryRequest(sql, "demo", "researcher@demo", epsilon=1.0)
    start = time.monotonic()
    try:
        answer(request, ctx)
        verdict = "released"
    except QueryRejected as exc:
        verdict = str(exc)
    return verdict, time.monotonic() - start


@pytest.mark.parametrize("sql", [JOIN3, MEDIAN_840, MEDIANS_9240], ids=["join3", "m840", "q9240x3"])
def test_request_finishes_or_is_refused_within_the_limit(ctx: Any, sql: str) -> None:
    verdict, took = _timed(ctx, sql)
    allowed = verdict == "released" or verdict.startswith((TIMED_OUT, TOO_MANY_QUANTILES))
    assert allowed, "refused with a message other than the deadline's or the plan's"
    assert took < LIMIT_S + SLACK_S, f"took {took:.1f} s with a {LIMIT_S:g} s limit"


def test_deadline_stops_per_group_quantiles(ctx: Any) -> None:
    """With a limit well below the Python-side work of 840 per-group medians (about a
    second here), the request is refused with the deadline's message, soon after it."""
    limit = 0.2
    tight = dataclasses.replace(
        ctx, settings=dataclasses.replace(ctx.settings, query_timeout_s=limit)
    )
    verdict, took = _timed(tight, MEDIAN_840.replace("AS m", "AS m2"))
    assert verdict.startswith(f"{TIMED_OUT} {limit:g} s"), "the deadline did not stop the loop"
    assert took < limit + 2.0, f"took {took:.1f} s with a {limit:g} s limit"
