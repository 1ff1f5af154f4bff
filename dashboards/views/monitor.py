"""Public-health monitor: published weekly indicators by region, with EARS alerts.

No sign-in. Reads published releases only (noisy values with their 95% intervals);
alerts are post-processing of those releases and cost no privacy budget.
"""

from __future__ import annotations

import streamlit as st

from dashboards import _charts, _data, _ui

st.title("Public-health monitor")
st.caption(
    "Weekly, region-level indicators from insurance claims, released with differential "
    "privacy: every value carries noise, shown as its 95% band. Alerts use the CDC EARS "
    "C1, C2 and C3 rules on the released values, allowing for the release noise."
)


@st.cache_data(ttl=60, show_spinner=False)
def _rows(home: str) -> list[dict]:
    return _data.monitor_rows(_ui.settings())


rows: list[dict] = []
titles: dict[str, str] = {}
with _ui.guard("Loading the published indicators"):
    rows = _rows(str(_ui.settings().home))
    titles = _data.indicator_titles(_ui.settings())

if not rows:
    st.info(
        "No indicator has been published yet. Once the steward releases the weekly "
        "indicators (`enclave indicators release`), they appear here."
    )
    st.stop()

available = sorted({r["indicator"] for r in rows})
indicator = st.selectbox(
    "Indicator", available, format_func=lambda i: titles.get(i, i), key="indicator"
)
mine = [r for r in rows if r["indicator"] == indicator]
weeks = sorted({r["period"] for r in mine})
week = st.select_slider("Week (Monday)", options=weeks, value=weeks[-1], key="week")
_ui.legend()
st.altair_chart(_charts.alert_timeline(mine, week), width="stretch")

cells = {r["region"]: r for r in mine if r["period"] == week}
alerts = [r for r in rows if r["period"] == week and r["level"] in ("red", "yellow")]
alerts.sort(key=lambda r: -r["strength"])

left, right = st.columns([5, 4])
with left:
    st.subheader(f"Regions, week of {week}")
    st.altair_chart(_charts.region_tiles(cells), width="content")
with right:
    st.subheader("Alerts this week")
    if not alerts:
        st.info("No region has a warning or an alert this week.")
    else:
        st.dataframe(
            [
                {
                    "level": a["level"],
                    "region": a["region"],
                    "indicator": a["indicator"],
                    "value": None if a["value"] is None else round(a["value"], 1),
                    "95% CI": ""
                    if a["ci_low"] is None or a["ci_high"] is None
                    else f"{a['ci_low']:.0f}–{a['ci_high']:.0f}",
                    "strength": round(a["strength"], 2),
                    "C1": None if a["c1"] is None else round(a["c1"], 2),
                    "C2": None if a["c2"] is None else round(a["c2"], 2),
                    "C3": None if a["c3"] is None else round(a["c3"], 2),
                }
                for a in alerts
            ],
            hide_index=True,
            width="stretch",
        )
        st.caption("Strength = the largest of C1/3, C2/3, C3/2; 1 or more is an alert.")
    n_red = sum(a["level"] == "red" for a in alerts)
    st.metric("Red alerts this week (all indicators)", n_red)

st.subheader("Weekly series")
regions = sorted({r["region"] for r in mine})
default = max(cells.values(), key=lambda r: r["strength"])["region"] if cells else regions[0]
region = st.selectbox("Region", regions, index=regions.index(default), key="region")
series = [r for r in mine if r["region"] == region]
st.altair_chart(_charts.series_chart(series, titles.get(indicator, indicator)), width="stretch")
last = series[-1] if series else {}
if last.get("periods_per_year") is not None:
    terms = (
        f"Each person counts in at most {last['periods_per_year']} weeks a year (their first "
        f"ones), so each year's whole series is released at ε = {last['epsilon_per_year']:g} "
        f"for this indicator, charged once a year; {last['periods_remaining']} weeks of "
        f"{last['year']} are left under it."
    )
else:
    terms = "Released before yearly accounting."
st.caption(f"{len(series)} published weeks. {terms} Bands are 95% intervals of the release noise.")
