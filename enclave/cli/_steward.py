"""Steward verbs: ``enclave project|member|user|token|review …`` and ``budget top-up``.

Each works on this host (``ENCLAVE_HOME``) or against a server (``--url`` and a steward's
``--token``, or ``ENCLAVE_URL`` / ``ENCLAVE_TOKEN``), with the same output and exit codes.
The actor in the audit log is always the authenticated principal: the token's owner, or
on this host without a token the local admin account (see ``enclave.home``). Every
change is audited by the store in the same transaction. ``--json`` prints data as JSON.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

import typer

from enclave.cli._common import AsJson, answer, cli_errors, emit
from enclave.cli._connect import Token, Url, connect
from enclave.errors import UserError

__all__ = ["register", "top_up"]

Reason = Annotated[str | None, typer.Option(help="Why (recorded in the audit log).")]

project_app = typer.Typer(
    help="Project applications, approvals, suspensions.", no_args_is_help=True
)
member_app = typer.Typer(help="Add or remove project members.", no_args_is_help=True)
user_app = typer.Typer(help="Users and their roles.", no_args_is_help=True)
token_app = typer.Typer(help="API tokens: issue (shown once), list, revoke.", no_args_is_help=True)
review_app = typer.Typer(help="Queries waiting for a steward's approval.", no_args_is_help=True)


def _rows(
    rows: list[dict[str, Any]], as_json: bool, lines: Callable[[dict[str, Any]], str]
) -> None:
    """Rows as JSON, or each row as the text ``lines`` makes of it."""
    if as_json:
        emit(rows)
        return
    for row in rows:
        typer.echo(lines(row))


# -- projects ---------------------------------------------------------------------------
@project_app.command("apply")
def project_apply(
    project: Annotated[str, typer.Argument(help="New project id (lowercase, dashes).")],
    title: Annotated[str, typer.Option(help="Short title.")],
    purpose: Annotated[str, typer.Option(help="What the project will study.")],
    tables: Annotated[str, typer.Option(help="Tables wanted, comma-separated.")],
    epsilon: Annotated[float | None, typer.Option(help="Requested total ε.")] = None,
    applicant: Annotated[
        str | None,
        typer.Option(help="Stewards: record it for this researcher (default: yourself)."),
    ] = None,
    url: Url = None,
    token: Token = None,
    as_json: AsJson = False,
) -> None:
    """Apply for a project (pending until a steward approves it)."""
    with cli_errors(as_json):
        wanted = [t.strip() for t in tables.split(",") if t.strip()]
        rec = connect(url, token).apply_project(
            project,
            title=title,
            purpose=purpose,
            tables=wanted,
            requested_epsilon=epsilon,
            applicant=applicant,
        )
        answer(rec, as_json, f"Application {project!r} recorded; status {rec['status']}.")


def _tables(specs: list[str]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for spec in specs:
        table, sep, cols = spec.partition("=")
        if not sep or not table.strip():
            raise UserError("Give tables as TABLE=col1,col2 or TABLE=* (repeat --table).")
        out[table.strip()] = [c.strip() for c in cols.split(",") if c.strip()] or ["*"]
    return out


@project_app.command("approve")
def project_approve(
    project: Annotated[str, typer.Argument(help="Pending project id.")],
    table: Annotated[list[str], typer.Option(help="TABLE=col1,col2 or TABLE=* (repeat).")],
    epsilon: Annotated[float, typer.Option(help="Total ε of the project.")],
    per_query: Annotated[float, typer.Option("--per-query", help="Largest ε per query.")],
    delta: Annotated[float, typer.Option(help="Total δ (0: public keys only).")] = 0.0,
    member_epsilon: Annotated[float | None, typer.Option(help="Each member's ε cap.")] = None,
    review_epsilon: Annotated[
        float | None, typer.Option(help="Queries above this ε wait for a steward.")
    ] = None,
    reason: Reason = None,
    url: Url = None,
    token: Token = None,
    as_json: AsJson = False,
) -> None:
    """Approve an application: which tables/columns, how much ε/δ, caps, review mode."""
    with cli_errors(as_json):
        rules = {
            "tables": _tables(table),
            "epsilon": epsilon,
            "delta": delta,
            "max_epsilon_per_query": per_query,
            "member_epsilon": member_epsilon,
            "review_epsilon": review_epsilon,
        }
        rec = connect(url, token).approve_project(project, rules, reason)
        answer(rec, as_json, f"Project {project!r} approved; status {rec['status']}.")


def _status_verb(status: str, past: str) -> Any:
    def verb(
        project: Annotated[str, typer.Argument(help="Project id.")],
        reason: Reason = None,
        url: Url = None,
        token: Token = None,
        as_json: AsJson = False,
    ) -> None:
        with cli_errors(as_json):
            rec = connect(url, token).set_project_status(project, status, reason)
            answer(rec, as_json, f"Project {project!r} {past}.")

    verb.__doc__ = f"Mark a project {status} (audited)."
    return verb


project_app.command("reject")(_status_verb("rejected", "rejected"))
project_app.command("suspend")(_status_verb("suspended", "suspended"))
project_app.command("resume")(_status_verb("active", "resumed"))


@project_app.command("list")
def project_list(url: Url = None, token: Token = None, as_json: AsJson = False) -> None:
    """Every project: policy files and applications, with status and ε."""
    with cli_errors(as_json):
        _rows(connect(url, token).list_projects(), as_json, _project_line)


def _project_line(p: dict[str, Any]) -> str:
    budget = p.get("budget")
    eps = f"{budget['epsilon_remaining']:.4g}/{budget['epsilon_total']:.4g}" if budget else "-"
    return f"{p['id']:<24} {p['status']:<10} ε left {eps:<12} {p.get('title') or ''}"


@project_app.command("show")
def project_show(
    project: str, url: Url = None, token: Token = None, as_json: AsJson = False
) -> None:
    """One project: lifecycle, rules, members."""
    with cli_errors(as_json):
        answer(connect(url, token).show_project(project), as_json, _show)


def _show(rec: dict[str, Any]) -> None:
    typer.echo(f"{rec['id']}: {rec.get('title') or ''} ({rec['status']}, {rec.get('source')})")
    for key in ("applicant", "purpose", "reason"):
        if rec.get(key):
            typer.echo(f"  {key}: {rec[key]}")
    policy = rec.get("policy")
    if policy is None:
        typer.echo("  no rules yet (pending or rejected)")
        return
    typer.echo(f"  members: {', '.join(policy['members']) or '(none)'}")
    for table, cols in policy["tables"].items():
        typer.echo(f"  {table}: {', '.join(cols)}")
    limits = (
        f"  ε {policy['epsilon']:g}, per query {policy['max_epsilon_per_query']:g}, "
        f"δ {policy['delta']:g}"
    )
    if policy.get("review_epsilon") is not None:
        limits += f", review above ε {policy['review_epsilon']:g}"
    if policy.get("member_epsilon") is not None:
        limits += f", each member ε {policy['member_epsilon']:g}"
    typer.echo(limits)


# -- members and users ------------------------------------------------------------------
def _member_verb(add: bool) -> Any:
    def verb(
        project: str, user: str, url: Url = None, token: Token = None, as_json: AsJson = False
    ) -> None:
        with cli_errors(as_json):
            client = connect(url, token)
            out = (client.add_member if add else client.remove_member)(project, user)
            now = "now" if add else "no longer"
            answer(out, as_json, f"{user} is {now} a member of {project}.")

    verb.__doc__ = (
        "Make a user a member of a project."
        if add
        else "Remove a member from a project (effective at once)."
    )
    return verb


member_app.command("add")(_member_verb(True))
member_app.command("remove")(_member_verb(False))


@user_app.command("add")
def user_add(
    user: str,
    role: Annotated[str, typer.Option(help="steward, researcher or public.")] = "researcher",
    url: Url = None,
    token: Token = None,
    as_json: AsJson = False,
) -> None:
    """Create a user with a role."""
    with cli_errors(as_json):
        out = connect(url, token).add_user(user, role)
        answer(out, as_json, f"User {user} added as {role}.")


@user_app.command("list")
def user_list(url: Url = None, token: Token = None, as_json: AsJson = False) -> None:
    """Every user and role."""
    with cli_errors(as_json):
        rows = connect(url, token).list_users()
        _rows(rows, as_json, lambda u: f"{u['id']:<32} {u['role']}")


# -- tokens -----------------------------------------------------------------------------
@token_app.command("issue")
def token_issue(
    user: str,
    days: Annotated[float | None, typer.Option(help="Expire after this many days.")] = None,
    url: Url = None,
    token: Token = None,
    as_json: AsJson = False,
) -> None:
    """Issue a token for a user. It is shown once; only its hash is kept."""
    with cli_errors(as_json):
        out = connect(url, token).issue_token(user, days)
        answer(out, as_json, out["token"])


@token_app.command("list")
def token_list(user: str, url: Url = None, token: Token = None, as_json: AsJson = False) -> None:
    """A user's tokens (ids, dates; never the secret)."""
    with cli_errors(as_json):
        rows = connect(url, token).list_tokens(user)
        _rows(rows, as_json, _token_line)


def _token_line(t: dict[str, Any]) -> str:
    state = "revoked" if t["revoked"] else f"expires {t['expires'] or 'never'}"
    return f"{t['id']}  created {t['created']}  {state}"


@token_app.command("revoke")
def token_revoke(
    token_id: str, url: Url = None, token: Token = None, as_json: AsJson = False
) -> None:
    """Revoke a token by id; every worker refuses it from the next request."""
    with cli_errors(as_json):
        out = connect(url, token).revoke_token(token_id.removeprefix("enc_"))
        answer(out, as_json, f"Token {token_id} revoked.")


# -- budgets and reviews ----------------------------------------------------------------
def top_up(
    project: Annotated[str, typer.Argument(help="Project id.")],
    epsilon: Annotated[float, typer.Option(help="ε to add (not negative).")],
    reason: Annotated[str, typer.Option(help="Why (audited).")],
    delta: Annotated[float, typer.Option(help="δ to add.")] = 0.0,
    member: Annotated[str | None, typer.Option(help="Only this member's share.")] = None,
    url: Url = None,
    token: Token = None,
    as_json: AsJson = False,
) -> None:
    """Add privacy budget to a project (or one member's share), with a reason."""
    with cli_errors(as_json):
        out = connect(url, token).top_up(
            project, epsilon=epsilon, delta=delta, reason=reason, member=member
        )
        answer(out, as_json, f"{project}: ε remaining now {out['epsilon_remaining']:g}.")


@review_app.command("list")
def review_list(
    status: Annotated[
        str | None, typer.Option(help="pending, approved, rejected or all.")
    ] = "pending",
    url: Url = None,
    token: Token = None,
    as_json: AsJson = False,
) -> None:
    """Reviews (pending by default) with the SQL to read."""
    with cli_errors(as_json):
        rows = connect(url, token).list_reviews(None if status == "all" else status)
        _rows(rows, as_json, _review_lines)


def _review_lines(r: dict[str, Any]) -> str:
    return f"{r['id']} {r['project']} ε={r['plan_epsilon']:g} by {r['requester']}\n    {r['sql']}"


def _decide(approve: bool) -> Any:
    def verb(
        review_id: str,
        reason: Reason = None,
        url: Url = None,
        token: Token = None,
        as_json: AsJson = False,
    ) -> None:
        with cli_errors(as_json):
            out = connect(url, token).decide_review(review_id, approve=approve, reason=reason)
            answer(out, as_json, f"Review {review_id} {out['status']}.")

    verb.__doc__ = f"{'Approve' if approve else 'Reject'} a pending query review."
    return verb


review_app.command("approve")(_decide(True))
review_app.command("reject")(_decide(False))


def register(app: typer.Typer) -> None:
    app.add_typer(project_app, name="project")
    app.add_typer(member_app, name="member")
    app.add_typer(user_app, name="user")
    app.add_typer(token_app, name="token")
    app.add_typer(review_app, name="review")
