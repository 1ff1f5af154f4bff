"""Standing public-health indicators: definitions, the release scheduler, EARS alerts.

Stewards define indicators in ``policies/indicators.toml``: who qualifies in a week (a
condition on a claim), the contribution bound over time (a person counts in at most
``periods_per_year`` weeks of a calendar year, the first ones in which they qualify) and
the year's ε, charged once per indicator-year to the ``public-health`` project. The
scheduler releases each new week under the year's ε (user-level continual release,
``_continual``) and publishes it; the public monitor reads published releases only and
computes alerts on them (``alerts``: a noise-aware Farrington-style regression, a CUSUM
and EARS C1/C2/C3, ``_detectors``; settings in ``[alerts]`` of the same file).

The scheduler runs on an open service (:func:`release_with`);
``enclave.service.release_indicators`` and ``enclave.service.backfill_indicators`` (every
complete week of the ``weeks`` key set, what ``enclave demo`` calls after ingest; re-running
it costs nothing) open one.
"""

from __future__ import annotations

from typing import Any

from enclave.indicators._alert_config import AlertConfig, load_alerts
from enclave.indicators._charges import Charge, charges_of, indicator_losses
from enclave.indicators._continual import COMPOSITION, YearAccounting, noisy_week
from enclave.indicators._definitions import Indicator, load_indicators
from enclave.indicators._detectors import Panel, Verdict, detect
from enclave.indicators._ears import EarsResult, c1, c2, c3, ears, level
from enclave.indicators._feed import alerts, data_through, feed_rows
from enclave.indicators._monitor import (
    LEVEL_COLOURS,
    alert_list,
    latest_levels,
    series_rows,
    with_alerts,
)
from enclave.indicators._published import Published, PublishedRelease, published_path
from enclave.indicators._scheduler import (
    RunSummary,
    indicators_of,
    periods_of,
    publish,
    release_with,
)
from enclave.indicators._sql import first_monday, mondays_in_year, year_of_week, year_sql
from enclave.settings import Settings

__all__ = [
    "COMPOSITION",
    "LEVEL_COLOURS",
    "AlertConfig",
    "Charge",
    "EarsResult",
    "Indicator",
    "Panel",
    "Published",
    "PublishedRelease",
    "RunSummary",
    "Verdict",
    "YearAccounting",
    "alert_list",
    "alerts",
    "c1",
    "c2",
    "c3",
    "charges_of",
    "data_through",
    "detect",
    "ears",
    "feed_rows",
    "first_monday",
    "indicator_losses",
    "indicators_of",
    "latest_levels",
    "level",
    "load_alerts",
    "load_indicators",
    "mondays_in_year",
    "noisy_week",
    "periods_of",
    "public_releases",
    "publish",
    "published_path",
    "release_with",
    "series_rows",
    "with_alerts",
    "year_of_week",
    "year_sql",
]


def public_releases(settings: Settings, indicator: str | None = None) -> list[dict[str, Any]]:
    """Every published indicator release as JSON (for ``GET /v1/releases/public``)."""
    path = published_path(settings.home)
    if not path.is_file():
        return []
    pub = Published(path)
    return [r.to_json() for r in pub.releases(status="published", indicator=indicator)]
