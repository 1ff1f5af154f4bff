"""Public-health monitor: published weekly indicators by region, with their alerts.

No sign-in. Reads published releases only (noisy values with their 95% intervals); the
alerts are post-processing of those releases (``enclave.indicators``) and cost no privacy
budget. One indicator at a time: the map, the table and the series all show it.
"""

from __future__ import annotations

import datetime as dt

import streamlit as st

from dashboards import _data, _monitor, _ui
from dashboards import _monitor_charts as charts

# A public page: no Streamlit toolbar, menu or Deploy button.
st.markdown(
    "<style>[data-testid='stToolbar'],[data-testid='stAppDeployButton'],"
    "[data-testid='stMainMenu']{display:none !important}</style>",
    unsafe_allow_html=True,
)
st.title("Public-health monitor")
st.caption(
    "How many people had a claim for each condition, week by week and region by region, "
    "from national health-insurance claims. Every number is released with a little random "
    "noise so that no one person can be recognised; alerts say where a week is higher than "
    "the region's own history makes likely."
)


@st.cache_data(ttl=60, show_spinner=False)
def _cells(home: str) -> list[dict]:
    return _monitor.monitor_cells(_ui.settings())


cells: list[dict] = []
titles: dict[str, str] = {}
with _ui.guard("Loading the published indicators"):
    cells = _cells(str(_ui.settings().home))
    titles = _data.indicator_titles(_ui.settings())

if not cells:
    st.info(
        "No indicator has been published yet. Once the steward releases the weekly "
        "indicators (`enclave indicators release`), they appear here."
    )
    st.stop()

with st.expander("How to read this"):
    st.markdown(
        "- **Values** count *people* (not visits) with a claim for the condition that week, "
        "by the region they live in.\n"
        "- **Noise.** Each value has random noise added before it is published (differential "
        "privacy), typically ±2 people; the shaded **band** is the 95% range the true value "
        "lies in. Small numbers are therefore uncertain: 3 may really be 0 or 6.\n"
        "- **Expected** (dashed line) is what the region's history predicts for the week — "
        "the same weeks of earlier years (in the first year, the recent weeks), after allowing "
        "for the noise. The dotted "
        "red line is the **threshold**: a value above it is an **alert** (red), which happens "
        "by chance about 1 week in 500; a **warning** (yellow) about 1 week in 50.\n"
        "- **Grey** weeks are not judged: not enough history yet, or **provisional** — the "
        "latest week, whose claims are still coming in.\n"
        "- **Rates** per 100,000 persons compare regions of different sizes (the number of "
        "persons per region is itself released once, with noise)."
    )

bands = _monitor.age_bands(_ui.settings())
if bands:
    with st.expander("Who is counted: persons by age"):
        total = sum(b["persons"] for b in bands)
        st.markdown(
            f"About **{total:,.0f}** insured persons, by their age in 2024 (each number "
            "released once with noise, like the weekly values; the rates per 100,000 use the "
            "persons per region released the same way)."
        )
        st.dataframe(
            [{"Age": b["band"], "Persons": round(b["persons"]),
              "95% range": f"{b['ci_low']:,.0f} – {b['ci_high']:,.0f}"} for b in bands],
            hide_index=True,
        )  # fmt: skip

# A link may choose the view: ?indicator=ili&week=2024-01-08&region=Taipei
asked = {k: st.query_params.get(k) for k in ("indicator", "week", "region")}
available = sorted({c["indicator"] for c in cells})
first = asked["indicator"] if asked["indicator"] in available else None
first = first or ("ili" if "ili" in available else available[0])
top = st.columns([3, 2, 2])
indicator = top[0].selectbox(
    "Indicator",
    available,
    index=available.index(first),
    format_func=lambda i: titles.get(i, i),
    key="indicator",
)
mine = [c for c in cells if c["indicator"] == indicator]
weeks = sorted({c["period"] for c in mine})
judged = [w for w in weeks if any(c["period"] == w and c["status"] == "ok" for c in mine)]
default = dt.date.fromisoformat((judged or weeks)[-1])
try:
    default = dt.date.fromisoformat(str(asked["week"])) if asked["week"] else default
except ValueError:
    pass
lowest = dt.date.fromisoformat(weeks[0])
highest = dt.date.fromisoformat(weeks[-1]) + dt.timedelta(days=6)
picked = top[1].date_input(
    "Week of",
    value=min(max(default, lowest), highest),
    min_value=lowest,
    max_value=highest,
    key="week",
    format="YYYY-MM-DD",
)
week = _monitor.snap_week(picked if isinstance(picked, dt.date) else default, weeks)
has_rates = any(c.get("rate") is not None for c in mine)
measure = top[2].radio(
    "Show",
    list(_monitor.MEASURES) if has_rates else ["count"],
    format_func=lambda m: "Rate per 100,000" if m == "rate" else "Count",
    horizontal=True,
    key="measure",
)
if not has_rates:
    top[2].caption("Rates appear once the persons per region are released.")
unit = "per 100,000" if measure == "rate" else "patients"
st.altair_chart(charts.timeline(mine, week), width="stretch")

these = {c["region"]: c for c in mine if c["period"] == week}
monday = dt.date.fromisoformat(week)
label = f"{monday:%d %b %Y} – {monday + dt.timedelta(days=6):%d %b %Y}"
if any(c["status"] == "provisional" for c in these.values()):
    st.warning(
        f"The week {label} is provisional: its data are incomplete (claims still coming "
        "in), so its values are low and it is not judged."
    )
left, right = st.columns([5, 4])
with left:
    st.subheader(f"Regions, week {label}")
    st.altair_chart(charts.region_map(these, measure), width="content")
    st.caption(
        f"Each tile is a region, placed roughly as on the map, with its value ({unit}) "
        "for the week: red alert, yellow warning, green as expected, grey not judged."
    )
with right:
    st.subheader("Alerts this week")
    flagged = sorted(
        (c for c in these.values() if c["level"] in ("alert", "warning")),
        key=lambda c: (c["level"] != "alert", c.get("p_value") or 1.0),
    )
    if not flagged:
        st.info(f"No region has a warning or an alert for {titles.get(indicator, indicator)}.")
    else:
        key = "rate" if measure == "rate" else "value"
        st.dataframe(
            [
                {
                    "Region": c["region"],
                    "Level": c["level"],
                    "Value": round(c.get(key) or 0.0, 1),
                    "Expected": round(
                        c.get(f"expected{'_rate' if measure == 'rate' else ''}") or 0.0, 1
                    ),
                    "By chance": _monitor.chance(c.get("p_value")),
                }
                for c in flagged
            ],
            hide_index=True,
            width="stretch",
        )
    st.metric("Alerts this week", sum(c["level"] == "alert" for c in these.values()))

st.subheader("One region, week by week")
regions = sorted({c["region"] for c in mine})
strongest = min(these.values(), key=lambda c: (c["level"] != "alert", c["level"] != "warning",
                                               c.get("p_value") or 1.0))  # fmt: skip
chosen = asked["region"] if asked["region"] in regions else strongest["region"]
region = st.selectbox("Region", regions, index=regions.index(chosen), key="region")
series = [c for c in mine if c["region"] == region]
now = next((c for c in series if c["period"] == week), {})
st.markdown(f"**{region}, week {label}.** {_monitor.sentence(now, 'patients')}")
title = f"{titles.get(indicator, indicator).split(':')[0]} ({unit})"
st.altair_chart(charts.series_chart(series, measure, week, title), width="stretch")
st.caption(
    "Band: 95% range of the released value. Dashed: expected. Dotted red: alert threshold. "
    f"Points: red alert, yellow warning, grey not judged. Detector: {now.get('detector', '-')} "
    "(a regression on the region's own history that allows for the release noise)."
)
