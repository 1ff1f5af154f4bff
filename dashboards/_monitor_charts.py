"""The monitor's charts: one region's series, the region map, the weeks with alerts.

Every chart shows one indicator and one measure (counts or rates per 100,000); dates on
the axes carry their year; the chosen week is marked. Colours: red alert, yellow
warning, green as expected, grey not judged (not enough history, or provisional).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import altair as alt
import polars as pl

from dashboards._charts import TILES, _typed
from enclave.indicators import LEVEL_COLOURS

__all__ = ["KINDS", "kind_of", "region_map", "series_chart", "timeline"]

KINDS = ["alert", "warning", "as expected", "not judged"]
_COLOUR = alt.Scale(
    domain=KINDS,
    range=[LEVEL_COLOURS["red"], LEVEL_COLOURS["yellow"], "#9fd39a", LEVEL_COLOURS["grey"]],
)
_AXIS = alt.Axis(format="%b %Y", labelAngle=0, title=None, tickCount="month")


def kind_of(row: dict[str, Any]) -> str:
    """The colour class of one cell."""
    if row.get("status") != "ok":
        return "not judged"
    return {"alert": "alert", "warning": "warning"}.get(str(row.get("level")), "as expected")


def _frame(rows: Sequence[dict[str, Any]], measure: str) -> pl.DataFrame:
    rate = measure == "rate"
    keys = ("rate", "rate_ci_low", "rate_ci_high", "expected_rate", "threshold_rate") if rate \
        else ("value", "ci_low", "ci_high", "expected", "threshold")  # fmt: skip
    data = [
        {
            "week": r["period"],
            "region": r["region"],
            "y": r.get(keys[0]),
            "low": r.get(keys[1]),
            "high": r.get(keys[2]),
            "expected": r.get(keys[3]),
            "threshold": r.get(keys[4]),
            "kind": kind_of(r),
            "status": r.get("status"),
        }
        for r in rows
    ]
    frame = pl.DataFrame(data, strict=False, infer_schema_length=None)
    return _typed(frame).with_columns(pl.col("week").str.to_date())


def series_chart(
    rows: Sequence[dict[str, Any]], measure: str, week: str, title: str
) -> alt.LayerChart:
    """One region's series: 95% band, value, expected and threshold lines, alerts as
    points, provisional weeks greyed (a grey point and a grey column), the chosen week
    marked."""
    data = _frame(rows, measure)
    x = alt.X("week:T", axis=_AXIS, scale=alt.Scale(padding=14))  # the last week not cut
    base = alt.Chart(data).encode(x=x)
    top = max([v for v in data["high"].drop_nulls().to_list()] + [1.0]) * 1.3
    band = base.mark_area(opacity=0.22, color="#4c78a8").encode(
        y=alt.Y("low:Q", title=title, scale=alt.Scale(domain=[0, top])), y2="high:Q"
    )
    line = base.mark_line(color="#4c78a8").encode(y="y:Q")
    expected = base.mark_line(color="#555", strokeDash=[5, 3]).encode(y="expected:Q")
    threshold = base.mark_line(color=LEVEL_COLOURS["red"], strokeDash=[2, 2], clip=True).encode(
        y="threshold:Q"
    )
    flagged = data.filter(pl.col("kind").is_in(["alert", "warning", "not judged"]))
    points = (
        alt.Chart(flagged)
        .mark_circle(size=70, opacity=0.95)
        .encode(
            x="week:T",
            y="y:Q",
            color=alt.Color("kind:N", scale=_COLOUR, title=None, legend=alt.Legend(orient="top")),
            tooltip=[alt.Tooltip("week:T", format="%d %b %Y"), "y:Q", "expected:Q", "kind:N"],
        )
    )
    late = data.filter(pl.col("status") == "provisional")
    shade = (
        alt.Chart(late.with_columns(end=pl.col("week") + pl.duration(days=7)))
        .mark_rect(color=LEVEL_COLOURS["grey"], opacity=0.25)
        .encode(x=x, x2="end:T", tooltip=[alt.Tooltip("week:T", title="provisional week",
                                                      format="%d %b %Y")])
    )  # fmt: skip
    rule = _week_rule(week)
    return (shade + band + line + expected + threshold + points + rule).properties(height=320)


def _week_rule(week: str) -> alt.Chart:
    frame = pl.DataFrame({"week": [week]}).with_columns(pl.col("week").str.to_date())
    return alt.Chart(frame).mark_rule(color="#222", strokeDash=[4, 3], size=2).encode(x="week:T")


def region_map(cells: dict[str, dict[str, Any]], measure: str) -> alt.LayerChart:
    """A tile per region (roughly as on the map), coloured by level, labelled with the
    week's value."""
    key = "rate" if measure == "rate" else "value"
    rows = []
    for region, (col, row) in TILES.items():
        cell = cells.get(region, {})
        value = cell.get(key)
        kind = kind_of(cell) if cell else "not judged"
        label = region if value is None else f"{region}\n{value:.0f}"
        rows.append({"region": region, "col": col, "row": row, "kind": kind, "label": label,
                     "value": value})  # fmt: skip
    data = _typed(pl.DataFrame(rows, strict=False, infer_schema_length=None))
    base = alt.Chart(data).encode(
        x=alt.X("col:O", axis=None), y=alt.Y("row:O", axis=None, sort="ascending")
    )
    tiles = base.mark_rect(stroke="white", strokeWidth=3, cornerRadius=4).encode(
        color=alt.Color("kind:N", scale=_COLOUR, legend=None),
        tooltip=["region", "kind", "value"],
    )
    text = base.mark_text(fontSize=11, lineBreak="\n").encode(text="label:N")
    return (tiles + text).properties(width=460, height=430)


def timeline(rows: Sequence[dict[str, Any]], week: str) -> alt.LayerChart:
    """Regions with a warning or an alert, per week, the chosen week marked."""
    counts: dict[tuple[str, str], int] = {}
    for r in rows:
        kind = kind_of(r)
        if kind in ("alert", "warning"):
            counts[(r["period"], kind)] = counts.get((r["period"], kind), 0) + 1
    ends = sorted({r["period"] for r in rows} | {week})
    anchors = [{"week": w, "kind": "as expected", "regions": 0} for w in (ends[0], ends[-1])]
    data = pl.DataFrame(
        [{"week": p, "kind": k, "regions": n} for (p, k), n in counts.items()] + anchors,
        infer_schema_length=None,
    ).with_columns(pl.col("week").str.to_date())
    bars = (
        alt.Chart(data)
        .mark_bar()
        .encode(
            x=alt.X("week:T", axis=_AXIS),
            y=alt.Y("regions:Q", title="regions", stack=True),
            color=alt.Color("kind:N", scale=_COLOUR, legend=None),
            tooltip=[alt.Tooltip("week:T", format="%d %b %Y"), "kind:N", "regions:Q"],
        )
    )
    return (bars + _week_rule(week)).properties(
        height=130, title="Regions with a warning or an alert, by week"
    )
