"""The alerts feed: every indicator × region × week with its level and the values behind it.

Computed from published releases only (noisy values, their noise standard errors and
scales), so it is post-processing and costs no privacy budget. For each indicator the
published weeks form one panel (weeks × regions, ``_detectors``); every detector judges
every cell, and the detector named by ``[alerts] detector`` in
``policies/indicators.toml`` gives the row's level. Weeks that the data do not fully
cover (from the last date of the ingested extracts, and ``provisional_weeks`` before it
for claims that arrive late) are *provisional*: marked, never used in a baseline, never
flagged.

A row (``enclave indicators alerts --json``, ``GET /v1/alerts``)::

    {"indicator": "ili", "region": "Taipei", "week": "2024-01-08", "level": "alert",
     "detector": "farrington", "status": "ok", "observed": 48.0, "expected": 30.2,
     "threshold": 44.0, "noise_se": 1.72, "p_value": 0.0004, "score": 3.4,
     "provisional": false, "detectors": {"farrington": {...}, "cusum": {...}, "ears": {...}}}
"""

from __future__ import annotations

import datetime as dt
import math
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np

from enclave.indicators._alert_config import AlertConfig
from enclave.indicators._detectors import Panel, Verdict, detect
from enclave.indicators._predictive import scale_from_se

__all__ = ["alert_rows", "is_provisional", "panel_of"]


def is_provisional(week: str, data_through: dt.date | None, provisional_weeks: int = 0) -> bool:
    """Whether a week's data are incomplete: it ends after the last date of the data, or
    is one of the ``provisional_weeks`` weeks before it.

    >>> d = dt.date(2024, 12, 31)
    >>> is_provisional("2024-12-30", d), is_provisional("2024-12-23", d)
    (True, False)
    >>> is_provisional("2024-12-23", d, 1), is_provisional("2024-12-23", None)
    (True, False)
    """
    if data_through is None:
        return False
    end = dt.date.fromisoformat(week) + dt.timedelta(days=6)
    return end > data_through - dt.timedelta(days=7 * provisional_weeks)


def _num(x: Any) -> float:
    return math.nan if x is None else float(x)


def panel_of(
    rows: Sequence[Mapping[str, Any]], provisional: Iterable[str] = ()
) -> tuple[list[str], list[str], Panel]:
    """Weeks, regions and the panel of one indicator's flattened rows (``series_rows``)."""
    weeks = sorted({str(r["period"]) for r in rows})
    regions = sorted({str(r["region"]) for r in rows})
    wi, ri = {w: i for i, w in enumerate(weeks)}, {r: i for i, r in enumerate(regions)}
    shape = (len(weeks), len(regions))
    values, se, scale = np.full(shape, math.nan), np.zeros(shape), np.zeros(shape)
    for r in rows:
        t, j = wi[str(r["period"])], ri[str(r["region"])]
        values[t, j], se[t, j] = _num(r["value"]), _num(r.get("se") or 0.0)
        given = r.get("scale")
        scale[t, j] = float(given) if given is not None else scale_from_se(se[t, j])
    usable = np.ones(shape, bool)
    for w in provisional:
        if w in wi:
            usable[wi[w]] = False
    return weeks, regions, Panel(values, se, scale, usable)


def _round(x: float | None, digits: int = 3) -> float | None:
    return None if x is None or math.isnan(x) else round(float(x), digits)


def _brief(v: Verdict) -> dict[str, Any]:
    return {
        "level": v.level,
        "status": v.status,
        "expected": _round(v.expected),
        "threshold": _round(v.threshold),
        "score": _round(v.score),
        "p_value": _round(v.p_value, 6),
    }


def _row(ind: str, week: str, region: str, se: float, main: Verdict, all_: dict) -> dict:
    return {
        "indicator": ind,
        "region": region,
        "week": week,
        "level": main.level,
        "detector": main.detector,
        "status": main.status,
        "observed": _round(main.observed),
        "expected": _round(main.expected),
        "threshold": _round(main.threshold),
        "noise_se": _round(se),
        "p_value": _round(main.p_value, 6),
        "score": _round(main.score),
        "provisional": main.status == "provisional",
        "detectors": {name: _brief(v) for name, v in all_.items()},
    }


def alert_rows(
    rows: Iterable[Mapping[str, Any]],
    cfg: AlertConfig,
    *,
    data_through: dt.date | None = None,
) -> list[dict[str, Any]]:
    """The feed's rows for flattened published rows (``series_rows``), ordered by
    indicator, week and region."""
    by_indicator: dict[str, list[Mapping[str, Any]]] = defaultdict(list)
    for r in rows:
        by_indicator[str(r["indicator"])].append(r)
    out: list[dict[str, Any]] = []
    for ind in sorted(by_indicator):
        series = by_indicator[ind]
        weeks = sorted({str(r["period"]) for r in series})
        late = [w for w in weeks if is_provisional(w, data_through, cfg.provisional_weeks)]
        weeks, regions, panel = panel_of(series, late)
        verdicts = detect(panel, cfg)
        for t, week in enumerate(weeks):
            for j, region in enumerate(regions):
                if math.isnan(panel.values[t, j]):
                    continue
                cell = {name: v[t][j] for name, v in verdicts.items()}
                se = float(panel.se[t, j])
                out.append(_row(ind, week, region, se, cell[cfg.detector], cell))
    return out
