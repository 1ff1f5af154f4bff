"""The alerts feed's rows: every (indicator, region, week), the configured detector's
level and the values behind it, provisional weeks from the data's last date."""

from __future__ import annotations

import datetime as dt

import numpy as np

from enclave.indicators import AlertConfig
from enclave.indicators._alerts import alert_rows, is_provisional

KEYS = {
    "indicator", "region", "week", "level", "detector", "status", "observed", "expected",
    "threshold", "noise_se", "p_value", "score", "provisional", "detectors",
}  # fmt: skip


def _rows(weeks: int = 30) -> list[dict]:
    first = dt.date(2024, 1, 1)
    rng = np.random.default_rng(0)
    out = []
    for i in range(weeks):
        week = (first + dt.timedelta(days=7 * i)).isoformat()
        for region in ("A", "B"):
            value = float(rng.poisson(20))
            if region == "A" and i == 25:
                value = 70.0
            out.append(
                {"indicator": "ili", "period": week, "region": region, "value": value,
                 "se": 1.72, "scale": 1.25}
            )  # fmt: skip
    return out


def test_every_cell_is_listed_with_its_values() -> None:
    rows = alert_rows(_rows(), AlertConfig())
    assert len(rows) == 60 and set(rows[0]) == KEYS
    assert {r["level"] for r in rows} <= {"none", "warning", "alert"}
    hit = next(r for r in rows if r["region"] == "A" and r["week"] == "2024-06-24")
    assert hit["level"] == "alert" and hit["detector"] == "farrington"
    assert hit["observed"] == 70.0 and hit["expected"] < hit["threshold"] < 70.0
    assert set(hit["detectors"]) == {"farrington", "cusum", "ears"}


def test_the_configured_detector_sets_the_level() -> None:
    rows = alert_rows(_rows(), AlertConfig(detector="cusum"))
    assert {r["detector"] for r in rows} == {"cusum"}


def test_weeks_past_the_data_are_provisional() -> None:
    rows = alert_rows(_rows(), AlertConfig(), data_through=dt.date(2024, 7, 24))
    late = {r["week"] for r in rows if r["provisional"]}
    assert late == {"2024-07-22"}
    assert all(r["level"] == "none" for r in rows if r["provisional"])
    assert is_provisional("2024-07-15", dt.date(2024, 7, 24), provisional_weeks=1)
