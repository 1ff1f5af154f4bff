"""The steward console's queues (applications, review-mode queries): choose one, decide.

Nothing is preselected and Enter never submits: a decision needs an item chosen by the
steward, a reason, and a click on Approve or Reject. The click only records what
was decided (a callback, before the page runs again); the page then carries it out once,
at the top of the next run, and clears the choice so a second click cannot land on a
different application.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import streamlit as st

from dashboards import _steward, _ui

if TYPE_CHECKING:
    from enclave.service import Principal

__all__ = ["DELTAS", "applications", "reviews"]

#: The δ a steward may grant (0: public group keys only).
DELTAS = (0.0, 1e-9, 1e-8, 1e-7, 1e-6, 1e-5)

_PICK = "app_pick"
_DECISION = "app_decision"
_COLUMNS = ("id", "title", "applicant", "purpose", "tables", "requested_epsilon", "created")


def _eps(value: Any) -> str:
    return "not stated" if value is None else f"{float(value):g}"


def _key(name: str, project: str) -> str:
    return f"app_{name}_{project}"


def _record(project: str, approve: bool, tables: list[str]) -> None:
    """Callback of Approve / Reject: keep what the form held when it was clicked."""
    state = st.session_state
    state[_DECISION] = {
        "project": project,
        "approve": approve,
        "reason": state.get(_key("reason", project), ""),
        "epsilon": state.get(_key("eps", project)),
        "max_epsilon_per_query": state.get(_key("cap", project)),
        "delta": state.get(_key("delta", project), 0.0),
        "review_epsilon": state.get(_key("review", project)),
        "member_epsilon": state.get(_key("member", project)),
        "tables": {
            t: list(state.get(_key(f"cols_{t}", project)) or [])
            for t in state.get(_key("tables", project)) or []
            if t in tables
        },
    }


def _carry_out(svc: Any, steward: Principal) -> None:
    decision = st.session_state.pop(_DECISION, None)
    if decision is None:
        return
    project = decision.pop("project")
    approve = decision.pop("approve")
    with _ui.guard("The decision"):
        if approve:
            rec = _steward.decide_application(svc, steward, project, approve=True, **decision)
        else:
            rec = _steward.decide_application(
                svc, steward, project, approve=False, reason=decision["reason"]
            )
        st.session_state.pop(_PICK, None)
        st.success(f"Project {rec['id']} is now {rec['status']}.")


def _form(svc: Any, app: dict[str, Any]) -> None:
    pid = app["id"]
    requested = list(app.get("tables") or [])
    st.markdown(
        f"**{app.get('title') or pid}** — applied by `{app.get('applicant')}` for "
        f"{', '.join(requested) or 'no table'}; requested ε "
        f"{_eps(app.get('requested_epsilon'))}."
    )
    st.caption(f"Purpose: {app.get('purpose') or '(none given)'}")
    with st.form(f"decide_{pid}", enter_to_submit=False):
        st.multiselect("Tables granted", requested, default=requested, key=_key("tables", pid))
        for table in requested:
            st.multiselect(
                f"Columns of {table} (* = all)",
                ["*", *_steward.table_columns(svc, table)],
                default=["*"],
                key=_key(f"cols_{table}", pid),
            )
        eps0 = float(app.get("requested_epsilon") or 1.0)
        left, mid, right = st.columns(3)
        left.number_input("Total ε", 0.01, 1000.0, eps0, key=_key("eps", pid))
        mid.number_input("Per-query ε cap", 0.01, 100.0, min(1.0, eps0), key=_key("cap", pid))
        right.selectbox(
            "Total δ",
            DELTAS,
            format_func=lambda d: "0" if d == 0 else f"{d:.0e}",
            key=_key("delta", pid),
        )
        left.number_input(
            "Review queries above ε (blank: no review)",
            0.01,
            100.0,
            None,
            key=_key("review", pid),
        )
        mid.number_input(
            "Each member's ε cap (blank: none)", 0.01, 1000.0, None, key=_key("member", pid)
        )
        st.text_input("Reason (kept in the audit log)", key=_key("reason", pid))
        ok, no = st.columns(2)
        ok.form_submit_button("Approve", on_click=_record, args=(pid, True, requested))
        no.form_submit_button("Reject", on_click=_record, args=(pid, False, requested))


def applications(svc: Any, steward: Principal) -> None:
    """The pending applications, a picker (empty until chosen) and the decision form."""
    st.subheader("Pending project applications")
    _carry_out(svc, steward)
    apps: list[dict[str, Any]] = []
    with _ui.guard("Listing applications"):
        apps = _steward.pending_applications(svc, steward)
    if not apps:
        st.session_state.pop(_PICK, None)
        st.info("No application is waiting.")
        return
    rows = [{k: a.get(k) for k in _COLUMNS} for a in apps]
    for row in rows:
        row["tables"] = ", ".join(row["tables"] or [])
    st.dataframe(rows, hide_index=True, width="stretch")
    ids = [a["id"] for a in apps]
    if st.session_state.get(_PICK) not in ids:
        st.session_state.pop(_PICK, None)
    pick = st.selectbox(
        "Application to decide", ids, index=None, placeholder="Choose an application", key=_PICK
    )
    if pick is not None:
        _form(svc, next(a for a in apps if a["id"] == pick))


def _record_review(review_id: str, approve: bool) -> None:
    state = st.session_state
    state["review_decision"] = {
        "id": review_id,
        "approve": approve,
        "reason": state.get(f"review_reason_{review_id}", ""),
    }


def reviews(svc: Any, steward: Principal) -> None:
    """Queries waiting for a steward: the list, a picker (empty until chosen), a decision."""
    st.subheader("Review-mode queries")
    decision = st.session_state.pop("review_decision", None)
    if decision is not None:
        with _ui.guard("The review"):
            out = _steward.decide_review(
                svc,
                steward,
                decision["id"],
                approve=decision["approve"],
                reason=decision["reason"],
            )
            st.session_state.pop("review_pick", None)
            st.success(f"Review {decision['id']} {out.get('status', 'recorded')}.")
    waiting: list[dict[str, Any]] = []
    with _ui.guard("Listing reviews"):
        waiting = _steward.pending_reviews(svc, steward)
    if not waiting:
        st.session_state.pop("review_pick", None)
        st.info("No query is waiting for review.")
        return
    st.dataframe(waiting, hide_index=True, width="stretch")
    ids = [str(r.get("id")) for r in waiting]
    if st.session_state.get("review_pick") not in ids:
        st.session_state.pop("review_pick", None)
    rid = st.selectbox(
        "Query to decide", ids, index=None, placeholder="Choose a query", key="review_pick"
    )
    if rid is None:
        return
    with st.form(f"decide_review_{rid}", enter_to_submit=False):
        st.text_input("Reason (kept in the audit log)", key=f"review_reason_{rid}")
        ok, no = st.columns(2)
        ok.form_submit_button("Approve", on_click=_record_review, args=(rid, True))
        no.form_submit_button("Reject", on_click=_record_review, args=(rid, False))
