"""The alerts feed of an enclave home: ``enclave indicators alerts`` and ``GET /v1/alerts``.

Reads the published releases (``published.sqlite``), the ``[alerts]`` settings of
``policies/indicators.toml`` and the last date of the ingested data (the latest
``reference_date`` of the ingest manifests: the extract's last date, an operational
date, not a data value), and returns every indicator × region × week with its level.
The result is kept in memory for as long as none of those changes.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from typing import Any

from enclave.indicators._alert_config import AlertConfig, load_alerts
from enclave.indicators._alerts import alert_rows
from enclave.indicators._monitor import series_rows
from enclave.indicators._published import Published, published_path
from enclave.settings import Settings

__all__ = ["alerts", "data_through", "feed_rows"]

_CACHE: dict[str, list[dict[str, Any]]] = {}
_KEEP = 8


def data_through(settings: Settings) -> dt.date | None:
    """The last date the ingested data cover (None before any ingest is recorded)."""
    from enclave.store import open_store

    if not settings.home.is_dir():
        return None
    with open_store(settings) as store:
        dates = [m.get("reference_date") for m in store.audit_log.manifests()]
    days = []
    for d in dates:
        try:
            days.append(dt.date.fromisoformat(str(d)[:10]))
        except ValueError:
            continue
    return max(days) if days else None


def feed_rows(
    settings: Settings, cfg: AlertConfig | None = None, through: dt.date | None = None
) -> list[dict[str, Any]]:
    """Every published (indicator, region, week) with its verdicts (cached)."""
    path = published_path(settings.home)
    if not path.is_file():
        return []
    cfg = cfg or load_alerts(settings.policies_dir / "indicators.toml")
    releases = Published(path).releases(status="published")
    key = hashlib.sha256(
        repr(
            (str(path), cfg, through, [(r.indicator, r.period, r.release_id) for r in releases])
        ).encode()
    ).hexdigest()
    if key not in _CACHE:
        if len(_CACHE) >= _KEEP:
            _CACHE.pop(next(iter(_CACHE)))
        _CACHE[key] = alert_rows(series_rows(releases), cfg, data_through=through)
    return _CACHE[key]


def alerts(settings: Settings, indicator: str | None = None) -> dict[str, Any]:
    """The feed as JSON: its settings, the data's last date and one row per cell."""
    from enclave.indicators._definitions import find, load_indicators

    if indicator is not None:  # NotFound names the indicators there are
        find(load_indicators(settings.policies_dir / "indicators.toml"), indicator)
    cfg = load_alerts(settings.policies_dir / "indicators.toml")
    through = data_through(settings)
    rows = feed_rows(settings, cfg, through)
    if indicator is not None:
        rows = [r for r in rows if r["indicator"] == indicator]
    return {
        "detector": cfg.detector,
        "data_through": None if through is None else through.isoformat(),
        "provisional_weeks": cfg.provisional_weeks,
        "levels": ["none", "warning", "alert"],
        "alerts": rows,
    }
