"""Steward views over the service layer: applications and reviews, budgets, accounts,
audit, ingest manifests and held indicator releases.

Changes go through ``Service`` steward methods (which check the role and audit); the few
read-only views the service has no method for (users, manifests) check the role here
and read the store's own listing functions.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import polars as pl

from enclave.errors import Forbidden, UserError

if TYPE_CHECKING:
    from enclave.service import Principal

__all__ = [
    "add_member",
    "audit_frame",
    "budget_history",
    "decide_application",
    "decide_review",
    "held_indicator_releases",
    "ingest_summary",
    "issue_token",
    "pending_applications",
    "pending_reviews",
    "project_overview",
    "publish_held",
    "revoke_token",
    "table_columns",
    "tokens_frame",
    "verify_audit",
]


def _steward(principal: Principal) -> None:
    if principal.role != "steward":
        raise Forbidden("Only stewards may do this; sign in with a steward token.")


def _reason(reason: str) -> str:
    if not reason or not reason.strip():
        raise UserError("Give a reason for the decision; it is kept in the audit log.")
    return reason.strip()


# -- applications and reviews ----------------------------------------------------------
def pending_applications(svc: Any, steward: Principal) -> list[dict[str, Any]]:
    return [p for p in svc.list_projects(steward) if p.get("status") == "pending"]


def table_columns(svc: Any, table: str) -> list[str]:
    """The columns of ``table`` a steward may grant (from the dataset policy)."""
    tpol = svc.dataset.table(table)
    return [] if tpol is None else [c.name for c in tpol.columns]


def decide_application(
    svc: Any,
    steward: Principal,
    project: str,
    *,
    approve: bool,
    reason: str,
    epsilon: float | None = None,
    max_epsilon_per_query: float | None = None,
    tables: dict[str, list[str]] | None = None,
    delta: float = 0.0,
    review_epsilon: float | None = None,
    member_epsilon: float | None = None,
) -> dict[str, Any]:
    """Approve ``project`` with the rules the steward set, or reject it; the reason is
    kept on the project and in the audit log.

    ``tables`` maps each granted table to its columns (``["*"]``: all); by default every
    table applied for, all columns.
    """
    _steward(steward)
    why = _reason(reason)
    if not project:
        raise UserError("Choose the application to decide.")
    if not approve:
        return dict(svc.set_project_status(steward, project, "rejected", why))
    app = svc.describe_project(project)
    eps = epsilon if epsilon is not None else app.get("requested_epsilon")
    if not eps:
        raise UserError("Set the project's total ε to approve it.")
    granted = tables if tables is not None else {t: ["*"] for t in app.get("tables") or []}
    granted = {t: cols for t, cols in granted.items() if cols}
    if not granted:
        raise UserError("Grant at least one table (with its columns) to approve the project.")
    rules: dict[str, Any] = {
        "tables": granted,
        "epsilon": float(eps),
        "delta": float(delta),
        "max_epsilon_per_query": min(float(eps), max_epsilon_per_query or 1.0),
        "review_epsilon": review_epsilon,
        "member_epsilon": member_epsilon,
    }
    return dict(svc.approve_project(steward, project, rules, reason=why))


def pending_reviews(svc: Any, steward: Principal) -> list[dict[str, Any]]:
    return list(svc.list_reviews(steward, status="pending"))


def decide_review(
    svc: Any, steward: Principal, review_id: str, *, approve: bool, reason: str
) -> dict[str, Any]:
    return dict(svc.decide_review(steward, review_id, approve=approve, reason=_reason(reason)))


# -- projects and budgets --------------------------------------------------------------
def project_overview(svc: Any, steward: Principal) -> list[dict[str, Any]]:
    """Every project with its status and ε total, spent and remaining."""
    out = []
    for p in svc.list_projects(steward):
        row = {"project": p["id"], "title": p.get("title"), "status": p.get("status")}
        if p.get("policy") is not None:
            b = svc.budget(steward, p["id"])
            row.update(
                members=len(p["policy"].get("members", [])),
                epsilon_total=b["epsilon_total"],
                epsilon_spent=b["epsilon_spent"],
                epsilon_remaining=b["epsilon_remaining"],
            )
        out.append(row)
    return out


def audit_frame(svc: Any, steward: Principal) -> pl.DataFrame:
    """The audit chain as a frame (hashes, actors, verdicts, ε; never a data value)."""
    rows = svc.audit_export(steward)
    keep = ("seq", "time", "actor", "project", "action", "verdict", "epsilon", "error_type")
    if not rows:
        return pl.DataFrame({k: [] for k in keep})
    return pl.DataFrame(
        [{k: r.get(k) for k in keep} for r in rows], strict=False, infer_schema_length=None
    )


def budget_history(overview: list[dict[str, Any]], audit: pl.DataFrame) -> pl.DataFrame:
    """ε spent and remaining per project over time, from released queries in the audit."""
    totals = {p["project"]: p.get("epsilon_total") for p in overview}
    empty = pl.DataFrame({"project": [], "time": [], "spent": [], "remaining": []})
    if audit.is_empty():
        return empty
    spent = (
        audit.filter(
            (pl.col("action") == "query")
            & (pl.col("verdict") == "released")
            & (pl.col("epsilon") > 0)
        )
        .select("project", "time", "epsilon")
        .sort("time")
        .with_columns(pl.col("epsilon").cum_sum().over("project").alias("spent"))
    )
    if spent.is_empty():
        return empty
    return spent.with_columns(
        (
            pl.col("project").replace_strict(totals, default=None, return_dtype=pl.Float64)
            - pl.col("spent")
        ).alias("remaining"),
        pl.col("time").str.to_datetime(time_zone="UTC", strict=False),
    ).drop("epsilon")


def verify_audit(svc: Any, steward: Principal) -> dict[str, Any]:
    return dict(svc.audit_verify(steward))


# -- accounts --------------------------------------------------------------------------
def tokens_frame(svc: Any, steward: Principal) -> pl.DataFrame:
    """Every user with role, projects and token metadata (never a hash)."""
    _steward(steward)
    rows: list[dict[str, Any]] = []
    for user in svc.store.accounts.users():
        projects = ", ".join(svc.store.projects.memberships(user["id"]))
        toks = svc.list_tokens(steward, user["id"]) or [{}]
        rows.extend(
            {
                "user": user["id"],
                "role": user["role"],
                "projects": projects,
                "token_id": t.get("id"),
                "created": t.get("created"),
                "expires": t.get("expires"),
                "revoked": t.get("revoked"),
            }
            for t in toks
        )
    return (
        pl.DataFrame(rows, strict=False, infer_schema_length=None)
        if rows
        else pl.DataFrame({"user": []})
    )


def issue_token(svc: Any, steward: Principal, user: str, days: int | None, role: str) -> str:
    """A new token for ``user`` (shown once); the user is created with ``role`` if new."""
    _steward(steward)
    user = user.strip()
    if not user:
        raise UserError("Name the user the token is for.")
    if svc.store.accounts.user(user) is None:
        svc.add_user(steward, user, role)
    return str(svc.issue_token(steward, user, float(days) if days else None)["token"])


def revoke_token(svc: Any, steward: Principal, token_id: str) -> None:
    svc.revoke_token(steward, token_id.strip())


def add_member(svc: Any, steward: Principal, project: str, user: str) -> None:
    svc.add_member(steward, project.strip(), user.strip())


# -- ingest and indicators -------------------------------------------------------------
def ingest_summary(svc: Any, steward: Principal) -> pl.DataFrame:
    """Per ingest and file: rows read, loaded, quarantined, and quarantine counts by reason."""
    _steward(steward)
    out: list[dict[str, Any]] = []
    for m in svc.store.audit_log.manifests():
        for name, f in sorted((m.get("files") or {}).items()):  # file name -> report
            base = {
                "ingest": m.get("ingest_id"),
                "file": f.get("file") or name,
                "table": f.get("table"),
                "rows_read": f.get("rows_read"),
                "rows_loaded": f.get("rows_loaded"),
                "rows_quarantined": f.get("rows_quarantined"),
            }
            reasons = f.get("reasons") or {"-": 0}
            out.extend({**base, "reason": k, "count": v} for k, v in reasons.items())
    return (
        pl.DataFrame(out, strict=False, infer_schema_length=None)
        if out
        else pl.DataFrame({"ingest": []})
    )


def held_indicator_releases(settings: Any) -> list[dict[str, Any]]:
    """Indicator weeks released but not yet published (no values shown here)."""
    from enclave.indicators import Published, published_path

    path = published_path(settings.home)
    if not path.is_file():
        return []
    return [
        {"indicator": r.indicator, "period": r.period, "epsilon": r.epsilon, "released": r.released}
        for r in Published(path).releases(status="held")
    ]


def publish_held(settings: Any, steward: Principal, indicator: str | None = None) -> int:
    """Publish held indicator releases (audited); the number published."""
    _steward(steward)
    from enclave.indicators import publish

    return publish(settings, indicator=indicator, steward=steward.user).published
