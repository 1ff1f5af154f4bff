"""``GET /v1/alerts``: the public alerts feed (no token, like ``/v1/releases/public``).

Every published indicator × region × week with its level (none, warning, alert), the
detector that set it and the values behind it, computed from published releases only
(``enclave.indicators.alerts``); ``?format=csv`` gives the same rows as CSV (without the
per-detector details) for systems that act on them.
"""

from __future__ import annotations

import csv
import io
from typing import Any, Literal

from fastapi import APIRouter
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field

from enclave.api._deps import Svc
from enclave.api._docs import answers

__all__ = ["AlertOut", "AlertsOut", "router"]

router = APIRouter()

CSV_COLUMNS = (
    "indicator", "region", "week", "level", "detector", "status", "observed", "expected",
    "threshold", "noise_se", "p_value", "score", "provisional",
)  # fmt: skip


class _Out(BaseModel):
    model_config = ConfigDict(frozen=True)


class AlertOut(_Out):
    indicator: str
    region: str
    week: str = Field(description="The week, by its Monday.")
    level: Literal["none", "warning", "alert"]
    detector: str = Field(description="The detector that set the level.")
    status: Literal["ok", "no_baseline", "provisional", "missing"]
    observed: float | None = Field(description="The released (noisy) value.")
    expected: float | None = Field(description="What the baseline expected.")
    threshold: float | None = Field(description="A value above this is an alert.")
    noise_se: float | None = Field(description="The release noise's standard error.")
    p_value: float | None = Field(description="Chance of a value this large without an outbreak.")
    score: float | None
    provisional: bool = Field(description="The week's data are incomplete.")
    detectors: dict[str, dict[str, Any]] = Field(description="Every detector's verdict.")


class AlertsOut(_Out):
    detector: str
    data_through: str | None = Field(description="The last date the ingested data cover.")
    provisional_weeks: int
    levels: list[str]
    alerts: list[AlertOut]


def _csv(rows: list[dict[str, Any]]) -> str:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=CSV_COLUMNS, extrasaction="ignore")
    writer.writeheader()
    writer.writerows(rows)
    return buf.getvalue()


def _documented() -> dict[str, Any]:
    """The JSON model, and the CSV that ``?format=csv`` answers with."""
    out = answers(AlertsOut, 400, 404, 422)
    out["responses"][200]["content"] = {"text/csv": {"schema": {"type": "string"}}}
    return out


@router.get(
    "/v1/alerts",
    **_documented(),
    tags=["public"],
    summary="Alerts on the published indicators",
)
def alerts(svc: Svc, indicator: str | None = None, format: Literal["json", "csv"] = "json") -> Any:
    """Every indicator × region × week of the published releases with its alert level,
    detector, observed and expected value, threshold and noise standard error (no token
    needed). Post-processing of public releases: it costs no privacy budget."""
    from enclave.indicators import alerts as feed

    out = feed(svc.settings, indicator)
    if format == "csv":
        return Response(_csv(out["alerts"]), media_type="text/csv")
    return out
