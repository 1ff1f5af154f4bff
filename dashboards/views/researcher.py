"""Researcher console: sign in, browse the schema, estimate cost, run, download.

The SQL a researcher types goes to the gateway through the service layer; this page
writes no SQL of its own and shows only released (noisy) results.
"""

from __future__ import annotations

import streamlit as st

from dashboards import _charts, _data, _ui

EXAMPLE = (
    "SELECT p.region, COUNT(DISTINCT c.person_id) AS patients\n"
    "FROM claims c JOIN persons p ON c.person_id = p.person_id\n"
    "WHERE c.setting = 'emergency'\n"
    "GROUP BY p.region"
)

st.title("Researcher console")
principal = _ui.signed_in("researcher", "Sign in with the API token your steward gave you.")

svc = _ui.service()
projects: list[str] = []
with _ui.guard("Listing your projects"):
    projects = _data.researcher_projects(svc, principal)
if not projects:
    st.info("You are not a member of an active project yet; ask your steward.")
    st.stop()
project = st.selectbox("Project", projects, key="project")
history: list[dict] = st.session_state.setdefault("history", [])

query_tab, schema_tab, history_tab = st.tabs(["Query", "Schema", "History and budget"])

with query_tab:
    sql = st.text_area("SQL", value=EXAMPLE, height=150, key="sql")
    mode = st.radio("Ask by", ["ε (privacy budget)", "target 95% half-width"], horizontal=True)
    epsilon: float | None = None
    half_width: float | None = None
    if mode.startswith("ε"):
        epsilon = st.number_input("ε", 0.01, 10.0, 0.5, 0.05, key="epsilon")
    else:
        half_width = st.number_input("95% half-width", 0.1, 1e9, 50.0, key="half_width")
    est_col, run_col = st.columns(2)
    if est_col.button("Estimate cost", key="estimate"):
        st.session_state.pop("estimate_out", None)
        with _ui.guard("The estimate"):
            st.session_state["estimate_out"] = _data.dry_run(
                svc, principal, sql, project, epsilon=epsilon, half_width=half_width
            )
    if run_col.button("Run", type="primary", key="run"):
        st.session_state.pop("result", None)
        with _ui.guard("The query"):
            out = _data.run_query(
                svc, principal, sql, project, epsilon=epsilon, half_width=half_width
            )
            st.session_state["result"] = out
            remaining = out.get("budget_remaining", {})
            history.append(
                {
                    "time": _data.iso_now(),
                    "project": project,
                    "sql": " ".join(sql.split())[:120],
                    "epsilon": out.get("epsilon_spent"),
                    "cached": out.get("cached"),
                    "budget_left": remaining.get("member_epsilon_remaining")
                    or remaining.get("epsilon_remaining"),
                }
            )

    est = st.session_state.get("estimate_out")
    if est:
        st.subheader("Estimated cost (nothing spent)")
        a, b, c = st.columns(3)
        a.metric("ε", f"{est.get('epsilon', 0):.3g}")
        b.metric("expected 95% half-width", _data.width_headline(est) or "—")
        with _ui.guard("Reading your budget"):  # read now: a run since the estimate spent
            left = _data.budget(svc, principal, project).get("epsilon_remaining")
            c.metric("project ε left", "—" if left is None else f"{left:.3g}")
        st.caption(
            f"rows per person ≤ {est.get('rows_per_person')} ({est.get('rows_bound')}), "
            f"groups per person ≤ {est.get('groups_per_person')}. {est.get('composition', '')}"
        )
        averages = _data.average_widths(est)
        if averages:
            st.caption(
                "Averages: expected 95% half-width in the average's own units, by the rows "
                "in a group (a smaller group is withheld)."
            )
            st.dataframe(averages, hide_index=True, width="stretch")
        for note in est.get("notes") or []:
            st.caption(note)

    result = st.session_state.get("result")
    if result:
        st.subheader("Released result")
        frame = _data.release_frame(result)
        st.dataframe(frame, hide_index=True, width="stretch")
        spent = result.get("epsilon_spent", 0.0)
        st.caption(
            f"ε spent {spent:g}"
            + (" (the same release as before, no new cost)" if result.get("cached") else "")
            + f" · {result.get('composition', '')}"
        )
        st.caption(_data.interval_line(result))
        for note in result.get("notes") or []:
            st.warning(note)
        aggs = [c[:-3] for c in frame.columns if c.endswith("_se")]
        keys = [c for c in frame.columns if not any(c.startswith(a) for a in aggs)]
        if aggs and keys:
            chart = _charts.error_bars(frame, keys[0], aggs[0])
            if chart is not None:
                st.altair_chart(chart, width="stretch")
        d1, d2 = st.columns(2)
        d1.download_button("Download CSV", _data.as_csv(frame), "release.csv", "text/csv")
        d2.download_button(
            "Download Parquet",
            _data.as_parquet(frame),
            "release.parquet",
            "application/vnd.apache.parquet",
        )

with schema_tab:
    with _ui.guard("Reading the schema"):
        info = _data.schema(svc, project)
        st.caption("From the steward's policy, never from the data.")
        for table in info["tables"]:
            kind = (
                "protected, person column " + str(table["person_column"])
                if table["protected"]
                else ("public")
            )
            with st.expander(f"{table['table']} ({kind})"):
                st.dataframe(table["columns"], hide_index=True, width="stretch")
        st.markdown(
            "**Public group keys** (every key is returned, present in the data or not; no δ). "
            "Any key computed only from columns with a public domain is public too."
        )
        st.dataframe(info["public_keys"], hide_index=True, width="stretch")

with history_tab:
    with _ui.guard("Reading your budget"):
        left_now = _data.budget(svc, principal, project)
        m1, m2, m3 = st.columns(3)
        m1.metric("project ε total", f"{left_now['epsilon_total']:g}")
        m2.metric("project ε left", f"{left_now['epsilon_remaining']:.3g}")
        mine = left_now.get("member_epsilon_remaining")
        m3.metric("your ε left", "—" if mine is None else f"{mine:.3g}")
        st.caption(left_now.get("composition", ""))
    if history:
        st.dataframe(history[::-1], hide_index=True, width="stretch")
    else:
        st.info("No query run in this session yet.")
