"""What the public monitor shows, as plain data: published values with their alerts, and
the sentences that say what a week means.

Everything comes from published releases (``enclave.indicators``: noisy values, their 95%
intervals and the alerts feed computed from them), so nothing here costs privacy budget or
reads the warehouse.

>>> sentence({"level": "alert", "observed": 48.0, "expected": 30.2, "p_value": 0.01,
...           "status": "ok"}, "patients")
'More patients than expected: 48 vs about 30 expected; a value this high happens by chance about 1 week in 100.'
"""

from __future__ import annotations

import datetime as dt
import math
from typing import Any

from enclave.settings import Settings

__all__ = ["MEASURES", "age_bands", "chance", "monitor_cells", "sentence", "snap_week"]

#: What the page can show per region: counts, or rates per 100,000 persons.
MEASURES = {"count": "Patients (count)", "rate": "Patients per 100,000 persons"}


def monitor_cells(settings: Settings) -> list[dict[str, Any]]:
    """One row per published (indicator, week, region): value, 95% interval and the feed's
    verdict (level, detector, expected, threshold, status), plus rates per 100,000 where a
    denominator release exists."""
    from enclave.indicators import Published, feed_rows, published_path, series_rows
    from enclave.indicators import data_through as through_of
    from enclave.indicators._denominators import denominators_of, with_rates

    path = published_path(settings.home)
    if not path.is_file():
        return []
    values = {
        (r["indicator"], r["period"], r["region"]): r
        for r in series_rows(Published(path).releases(status="published"))
    }
    out = []
    for a in feed_rows(settings, through=through_of(settings)):
        base = values.get((a["indicator"], a["week"], a["region"]), {})
        out.append(
            {
                **a,
                "period": a["week"],
                "value": base.get("value"),
                "se": base.get("se"),
                "ci_low": base.get("ci_low"),
                "ci_high": base.get("ci_high"),
            }
        )
    return with_rates(out, denominators_of(settings))


def age_bands(settings: Settings) -> list[dict[str, Any]]:
    """The published persons per age band (0–9 … 90+), or empty before their release."""
    from enclave.indicators._bands import age_bands_of

    return age_bands_of(settings)


def snap_week(day: dt.date, weeks: list[str]) -> str:
    """The published week (Monday) that holds ``day``, or the nearest one.

    >>> snap_week(dt.date(2024, 1, 10), ["2024-01-01", "2024-01-08", "2024-01-15"])
    '2024-01-08'
    >>> snap_week(dt.date(2030, 1, 1), ["2024-01-01", "2024-01-08"])
    '2024-01-08'
    """
    monday = (day - dt.timedelta(days=day.weekday())).isoformat()
    if monday in weeks:
        return monday
    return min(weeks, key=lambda w: abs((dt.date.fromisoformat(w) - day).days))


def chance(p: float | None) -> str:
    """A tail probability in words: 'about 1 week in 100'.

    >>> chance(0.0004), chance(0.03), chance(None)
    ('less than 1 week in 1,000', 'about 1 week in 30', 'not known')
    """
    if p is None:
        return "not known"
    if p < 0.001:
        return "less than 1 week in 1,000"
    n = 1 / max(p, 1e-12)
    rounded = int(round(n, -math.floor(math.log10(n))))
    return f"about 1 week in {rounded:,}"


def sentence(row: dict[str, Any], noun: str = "patients") -> str:
    """One plain sentence about one week of one region."""
    obs, exp = row.get("observed"), row.get("expected")
    status = row.get("status")
    if status == "provisional":
        return (
            "This week's data are incomplete (claims are still coming in), so it is shown "
            "greyed and not judged; its value will rise."
        )
    if status in ("no_baseline", "missing") or obs is None or exp is None:
        return "Not enough earlier weeks yet to say what is expected here."
    level = row.get("level")
    if level in ("alert", "warning"):
        word = "More" if level == "alert" else "Somewhat more"
        return (
            f"{word} {noun} than expected: {obs:.0f} vs about {exp:.0f} expected; a value "
            f"this high happens by chance {chance(row.get('p_value'))}."
        )
    return f"As expected: {obs:.0f} {noun} (about {exp:.0f} expected)."
