"""Steward console: applications and reviews, projects and budgets, members and tokens."""

from __future__ import annotations

import streamlit as st

from dashboards import _charts, _dataset_budget, _decisions, _steward, _ui

st.title("Steward console")
steward = _ui.signed_in("steward", "Sign in with a steward token.", key="steward_token")
svc = _ui.service()

apps_tab, budget_tab, people_tab = st.tabs(
    ["Applications and reviews", "Projects and budgets", "Members and tokens"]
)

with apps_tab:
    _decisions.applications(svc, steward)
    _decisions.reviews(svc, steward)

with budget_tab:
    with _ui.guard("Reading budgets"):
        overview = _steward.project_overview(svc, steward)
        st.dataframe(overview, hide_index=True, width="stretch")
        history = _steward.budget_history(overview, _steward.audit_frame(svc, steward))
        chart = _charts.budget_chart(history)
        if chart is None:
            st.info("No budget has been spent yet.")
        else:
            st.subheader("ε remaining over time")
            st.altair_chart(chart, width="stretch")
    with _ui.guard("Reading the dataset's total"):
        _dataset_budget.render(svc, steward)

with people_tab:
    with _ui.guard("Reading accounts"):
        st.dataframe(_steward.tokens_frame(svc, steward), hide_index=True, width="stretch")
    left, right = st.columns(2)
    with left, st.form("issue"):
        st.markdown("**Issue a token**")
        user = st.text_input("User id", key="issue_user")
        role = st.selectbox("Role if new", ["researcher", "steward"], key="issue_role")
        days = st.number_input("Valid for days (0 = no expiry)", 0, 3650, 90, key="issue_days")
        issued = st.form_submit_button("Issue token")
    if issued:
        with _ui.guard("Issuing the token"):
            token = _steward.issue_token(svc, steward, user, int(days), role)
            st.success("Token issued. Copy it now: it is shown only once.")
            st.code(token, language=None)
    with right, st.form("revoke"):
        st.markdown("**Revoke a token**")
        token_id = st.text_input("Token id", key="revoke_id")
        revoked = st.form_submit_button("Revoke")
    if revoked:
        with _ui.guard("Revoking the token"):
            _steward.revoke_token(svc, steward, token_id)
            st.success("Token revoked.")
    with st.form("member"):
        st.markdown("**Add a member to a project**")
        proj = st.text_input("Project id", key="member_project")
        who = st.text_input("User id", key="member_user")
        added = st.form_submit_button("Add member")
    if added:
        with _ui.guard("Adding the member"):
            _steward.add_member(svc, steward, proj, who)
            st.success("Member added.")
