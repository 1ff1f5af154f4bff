"""Altair charts: estimates with error bars, series with 95% bands, the region tile grid."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import altair as alt
import polars as pl

from enclave.indicators import LEVEL_COLOURS

__all__ = ["alert_timeline", "budget_chart", "error_bars", "region_tiles", "series_chart"]

_LEVELS = ["red", "yellow", "none", "grey"]
_COLOUR = alt.Scale(domain=_LEVELS, range=[LEVEL_COLOURS[k] for k in _LEVELS])

#: The 22 regions on a rough geographic tile layout (column, row), north at the top.
TILES: dict[str, tuple[int, int]] = {
    "Lienchiang": (0, 0), "Taipei": (3, 0), "Keelung": (4, 0),
    "Kinmen": (0, 1), "Taoyuan": (2, 1), "New Taipei": (3, 1), "Yilan": (4, 1),
    "Hsinchu City": (1, 2), "Hsinchu County": (2, 2),
    "Miaoli": (1, 3), "Taichung": (2, 3), "Hualien": (3, 3),
    "Changhua": (1, 4), "Nantou": (2, 4),
    "Penghu": (0, 5), "Yunlin": (1, 5), "Chiayi County": (2, 5), "Taitung": (3, 5),
    "Chiayi City": (1, 6), "Tainan": (2, 6),
    "Kaohsiung": (2, 7),
    "Pingtung": (2, 8),
}  # fmt: skip


def _typed(frame: pl.DataFrame) -> pl.DataFrame:
    """Columns with no value at all get a real type (altair cannot encode polars' Null).

    >>> _typed(pl.DataFrame({"v": [None, None]})).dtypes
    [Float64]
    """
    nulls = [c for c, t in frame.schema.items() if t == pl.Null]
    return frame.with_columns(pl.col(c).cast(pl.Float64) for c in nulls) if nulls else frame


def error_bars(frame: pl.DataFrame, key: str, estimate: str) -> alt.Chart | None:
    """Estimates as points with 95% interval bars, by the first key column."""
    low, high = f"{estimate}_ci_low", f"{estimate}_ci_high"
    if key not in frame.columns or low not in frame.columns or frame.is_empty():
        return None
    data = frame.select(
        pl.col(key).cast(pl.Utf8).alias("key"),
        pl.col(estimate).alias("estimate"),
        pl.col(low).alias("low"),
        pl.col(high).alias("high"),
    )
    base = alt.Chart(_typed(data)).encode(x=alt.X("key:N", title=key, sort=None))
    bars = base.mark_errorbar(ticks=True).encode(y=alt.Y("low:Q", title=estimate), y2="high:Q")
    points = base.mark_point(filled=True, size=60).encode(
        y="estimate:Q", tooltip=["key", "estimate", "low", "high"]
    )
    return (bars + points).properties(height=320)


def series_chart(rows: Sequence[dict[str, Any]], title: str) -> alt.LayerChart:
    """One region's weekly series: 95% band, line, and points coloured by alert level."""
    data = _typed(pl.DataFrame(rows, strict=False, infer_schema_length=None)).with_columns(
        pl.col("period").str.to_date().alias("week")
    )
    base = alt.Chart(data).encode(x=alt.X("week:T", title="week"))
    band = base.mark_area(opacity=0.25, color="#4c78a8").encode(
        y=alt.Y("ci_low:Q", title=title), y2="ci_high:Q"
    )
    line = base.mark_line(color="#4c78a8").encode(y="value:Q")
    points = base.mark_circle(size=45).encode(
        y="value:Q",
        color=alt.Color("level:N", scale=_COLOUR, title="alert"),
        tooltip=["period", "region", "value", "ci_low", "ci_high", "c1", "c2", "c3", "level"],
    )
    return (band + line + points).properties(height=300)


def region_tiles(cells: dict[str, dict[str, Any]]) -> alt.LayerChart:
    """A tile per region, coloured by alert level, labelled with the region's value."""
    rows = []
    for region, (col, row) in TILES.items():
        cell = cells.get(region)
        value = None if cell is None or cell.get("value") is None else cell["value"]
        rows.append(
            {
                "region": region,
                "col": col,
                "row": row,
                "level": "grey" if cell is None else cell["level"],
                "label": region if value is None else f"{region}\n{value:.0f}",
                "value": value,
            }
        )
    data = _typed(pl.DataFrame(rows, strict=False, infer_schema_length=None))
    base = alt.Chart(data).encode(
        x=alt.X("col:O", axis=None), y=alt.Y("row:O", axis=None, sort="ascending")
    )
    tiles = base.mark_rect(stroke="white", strokeWidth=3, cornerRadius=4).encode(
        color=alt.Color("level:N", scale=_COLOUR, legend=None),
        tooltip=["region", "level", "value"],
    )
    text = base.mark_text(fontSize=11, lineBreak="\n").encode(text="label:N")
    return (tiles + text).properties(width=520, height=470)


def budget_chart(history: pl.DataFrame) -> alt.Chart | None:
    """ε remaining per project over time (step line)."""
    if history.is_empty():
        return None
    return (
        alt.Chart(_typed(history))
        .mark_line(interpolate="step-after", point=True)
        .encode(
            x=alt.X("time:T", title="time"),
            y=alt.Y("remaining:Q", title="ε remaining"),
            color=alt.Color("project:N"),
            tooltip=["project", "time", "spent", "remaining"],
        )
        .properties(height=280)
    )


def alert_timeline(rows: Sequence[dict[str, Any]], week: str) -> alt.LayerChart:
    """Regions at red and yellow per week (stacked bars), the chosen week marked."""
    counts: dict[tuple[str, str], int] = {}
    for r in rows:
        if r["level"] in ("red", "yellow"):
            counts[(r["period"], r["level"])] = counts.get((r["period"], r["level"]), 0) + 1
    data = pl.DataFrame(
        [{"week": p, "level": lvl, "regions": n} for (p, lvl), n in counts.items()]
        or [{"week": week, "level": "none", "regions": 0}],
        infer_schema_length=None,
    ).with_columns(pl.col("week").str.to_date())
    bars = (
        alt.Chart(data)
        .mark_bar()
        .encode(
            x=alt.X("week:T", title="week"),
            y=alt.Y("regions:Q", title="regions", stack=True),
            color=alt.Color("level:N", scale=_COLOUR, legend=None),
            tooltip=["week", "level", "regions"],
        )
    )
    rule = (
        alt.Chart(pl.DataFrame({"week": [week]}).with_columns(pl.col("week").str.to_date()))
        .mark_rule(color="#333", strokeDash=[4, 3])
        .encode(x="week:T")
    )
    return (bars + rule).properties(height=150, title="Regions with a warning or an alert, by week")
