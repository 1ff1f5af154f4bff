"""What the public monitor shows: published series per indicator and region, with alerts.

Everything here is post-processing of published releases (noisy values and their
standard errors), so it costs no privacy budget. Each (indicator, region) series runs
over the weeks that were published, in order; a week never published is a gap (its
EARS statistics are not computed and its level is grey).

>>> rows = [{"indicator": "ili", "period": f"2024-01-{d:02d}", "region": "Taipei",
...          "value": v, "se": 1.0, "ci_low": v - 2, "ci_high": v + 2}
...         for d, v in zip((1, 8, 15, 22, 29), (5, 5, 5, 5, 5), strict=True)]
>>> [r["level"] for r in with_alerts(rows)]
['grey', 'grey', 'grey', 'grey', 'grey']
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from typing import Any

from enclave.indicators._ears import ears
from enclave.indicators._published import PublishedRelease

__all__ = ["LEVEL_COLOURS", "alert_list", "latest_levels", "series_rows", "with_alerts"]

#: ESSENCE-style legend: red alert, yellow warning, none, grey (not enough baseline).
LEVEL_COLOURS = {"red": "#d62728", "yellow": "#f2c744", "none": "#e8f1e4", "grey": "#b0b0b0"}


def _num(x: Any) -> float | None:
    return None if x is None else float(x)


def _terms(rel: PublishedRelease) -> dict[str, Any]:
    """The year's privacy terms a release states (None for a release without them)."""
    acc = rel.accounting or {}
    names = ("year", "periods_per_year", "epsilon_per_year", "periods_remaining", "scale")
    return {name: acc.get(name) for name in names}


def series_rows(releases: Iterable[PublishedRelease], key_column: str = "region") -> list[dict]:
    """Flatten releases into one row per (indicator, period, key) with value, se and CI."""
    out: list[dict[str, Any]] = []
    for rel in releases:
        if rel.indicator == "denominators":  # the one-time persons release, not a series
            continue
        idx = {c: i for i, c in enumerate(rel.columns)}
        value_col = next((c for c in rel.columns if c == "value"), None)
        if key_column not in idx or value_col is None:
            continue
        for row in rel.rows:
            out.append(
                {
                    "indicator": rel.indicator,
                    "period": rel.period,
                    "region": row[idx[key_column]],
                    "value": _num(row[idx["value"]]),
                    "se": _num(row[idx["value_se"]]) if "value_se" in idx else None,
                    "ci_low": _num(row[idx["value_ci_low"]]) if "value_ci_low" in idx else None,
                    "ci_high": _num(row[idx["value_ci_high"]]) if "value_ci_high" in idx else None,
                    "epsilon": rel.epsilon,
                    **_terms(rel),
                }
            )
    return out


def with_alerts(rows: Iterable[dict[str, Any]], *, min_sigma: float = 1.0) -> list[dict]:
    """Add C1, C2, C3, level and strength to each row (series by indicator and region)."""
    groups: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        groups[(row["indicator"], row["region"])].append(dict(row))
    out: list[dict[str, Any]] = []
    for key in sorted(groups):
        series = sorted(groups[key], key=lambda r: r["period"])
        values = [r["value"] for r in series]
        noise = [(r["se"] or 0.0) ** 2 for r in series]
        for row, res in zip(series, ears(values, noise, min_sigma=min_sigma), strict=True):
            row.update(c1=res.c1, c2=res.c2, c3=res.c3, level=res.level, strength=res.strength)
            out.append(row)
    return out


def latest_levels(rows: Iterable[dict[str, Any]], period: str) -> dict[tuple[str, str], dict]:
    """(indicator, region) → that week's row (with level), for the tile grid."""
    return {(r["indicator"], r["region"]): r for r in rows if r["period"] == period}


def alert_list(rows: Iterable[dict[str, Any]], period: str) -> list[dict[str, Any]]:
    """Red and yellow (indicator, region) cells of one week, strongest first.

    >>> cells = [{"period": "w", "level": "yellow", "strength": 0.8, "region": "B"},
    ...          {"period": "w", "level": "red", "strength": 1.5, "region": "A"},
    ...          {"period": "w", "level": "none", "strength": 0.1, "region": "C"}]
    >>> [c["region"] for c in alert_list(cells, "w")]
    ['A', 'B']
    """
    hits = [r for r in rows if r["period"] == period and r["level"] in ("red", "yellow")]
    return sorted(hits, key=lambda r: (-r["strength"], r.get("indicator", ""), r["region"]))
