"""Altair charts: estimates with error bars, ε over time, the regions' tile layout (the
monitor's charts are in ``_monitor_charts``)."""

from __future__ import annotations

import altair as alt
import polars as pl

__all__ = ["TILES", "budget_chart", "error_bars"]


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
