"""Steward console, second page: audit browser, ingest manifests, indicator publication."""

from __future__ import annotations

import polars as pl
import streamlit as st

from dashboards import _steward, _ui

st.title("Audit, ingest and indicators")
steward = _ui.signed_in("steward", "Sign in with a steward token.", key="steward_token")
svc = _ui.service()

audit_tab, ingest_tab, ind_tab = st.tabs(["Audit log", "Ingest", "Indicators"])

with audit_tab:
    if st.button("Verify chain", key="verify"):
        with _ui.guard("Verifying the audit chain"):
            result = _steward.verify_audit(svc, steward)
            if result["ok"]:
                st.success(f"{result['message']} ({result['records']} records)")
            else:
                st.error(
                    f"{result['message']} Problem: {result['problem']} "
                    f"at record {result['first_bad_seq']}."
                )
    frame = pl.DataFrame()
    with _ui.guard("Reading the audit log"):
        frame = _steward.audit_frame(svc, steward)
    if frame.is_empty():
        st.info("The audit log is empty.")
    else:
        cols = st.columns(4)
        filters = {}
        for col, name in zip(cols, ("actor", "project", "action", "verdict"), strict=True):
            options = sorted({str(v) for v in frame[name].to_list() if v is not None})
            filters[name] = col.multiselect(name, options, key=f"f_{name}")
        for name, chosen in filters.items():
            if chosen:
                frame = frame.filter(pl.col(name).cast(pl.Utf8).is_in(chosen))
        st.caption(f"{frame.height} records (newest first)")
        st.dataframe(frame.sort("seq", descending=True), hide_index=True, width="stretch")

with ingest_tab:
    st.caption("Counts only: no row, identifier or value from a quarantined line is shown.")
    with _ui.guard("Reading ingest manifests"):
        ingest = _steward.ingest_summary(svc, steward)
        if ingest.is_empty() or "file" not in ingest.columns:
            st.info("No ingest has been recorded yet.")
        else:
            files = ingest.unique(["ingest", "file"], keep="first", maintain_order=True).select(
                "ingest", "file", "table", "rows_read", "rows_loaded", "rows_quarantined"
            )
            st.dataframe(files, hide_index=True, width="stretch")
            reasons = (
                ingest.filter(pl.col("count") > 0)
                .group_by("reason")
                .agg(pl.col("count").sum())
                .sort("count", descending=True)
            )
            st.subheader("Quarantined rows by reason")
            st.dataframe(reasons, hide_index=True, width="stretch")

with ind_tab:
    settings = _ui.settings()
    held: list[dict] = []
    with _ui.guard("Reading indicator releases"):
        held = _steward.held_indicator_releases(settings)
    if not held:
        st.info(
            "No indicator release is waiting to be published. `enclave indicators release "
            "--hold` keeps new weeks here for review."
        )
    else:
        st.dataframe(held, hide_index=True, width="stretch")
        if st.button(f"Publish {len(held)} held releases", key="publish"):
            with _ui.guard("Publishing"):
                n = _steward.publish_held(settings, steward)
                st.success(f"Published {n} indicator releases.")
