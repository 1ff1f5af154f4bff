"""Researchers' endpoints: queries, dry runs, budgets, reviews of large queries."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from enclave.api._deps import Bearer, Caller, Rate, Svc, authorised
from enclave.api._docs import AUTHED, BODY, answers
from enclave.api._models import QueryBody, ReleaseOut
from enclave.api._responses import BudgetOut, DryRunOut, MeOut, ReviewOut, ReviewsOut

__all__ = ["router"]

router = APIRouter(prefix="/v1", tags=["queries"])


def _ask(body: QueryBody) -> dict[str, Any]:
    return {"epsilon": body.epsilon, "half_width": body.half_width}


def _answer(svc: Any, rate: Any, creds: Any, body: QueryBody) -> dict[str, Any]:
    who = authorised(svc, rate, creds)
    return svc.query(who, body.sql, body.project, **_ask(body))


@router.post(
    "/queries",
    summary="Answer a query with a differentially private release",
    **answers(ReleaseOut, *BODY, 409),
)
async def post_query(body: QueryBody, svc: Svc, rate: Rate, creds: Bearer) -> JSONResponse:
    """Same JSON as ``enclave query --json``: ``columns``, ``rows`` (each aggregate with
    ``_se``, ``_ci_low``, ``_ci_high``), ``epsilon_spent``, ``budget_remaining``, bounds,
    mechanisms, ``notes`` and ``interval_note`` (``ReleaseOut``). Asking the same query
    again returns the stored release at no cost."""
    # One trip to a worker thread for the token check, the rate count and the answer.
    return JSONResponse(await run_in_threadpool(_answer, svc, rate, creds, body))


@router.post(
    "/queries/dry-run",
    **answers(DryRunOut, *BODY),
    summary="Dry run: ε and expected 95% half-width, no spending",
)
def post_dry_run(body: QueryBody, svc: Svc, who: Caller) -> dict[str, Any]:
    """What the query would cost and how accurate each aggregate would be; nothing is
    run against the data and nothing is charged. Give ``half_width`` to see the ε needed."""
    return svc.dry_run(who, body.sql, body.project, **_ask(body))


@router.get(
    "/projects/{project}/budget",
    **answers(BudgetOut, *AUTHED),
    summary="Total, spent and remaining budget",
)
def get_budget(project: str, svc: Svc, who: Caller, user: str | None = None) -> dict[str, Any]:
    """Stewards may add ``?user=`` to see one member's share too."""
    return svc.budget(who, project, member=user)


@router.post(
    "/reviews",
    **answers(ReviewOut, *BODY, 409, status=201),
    summary="Ask a steward to approve a large query",
)
def post_review(body: QueryBody, svc: Svc, who: Caller) -> dict[str, Any]:
    """For queries above the project's review threshold: once approved, send the same
    query to ``/v1/queries``."""
    return svc.submit_review(who, body.sql, body.project, **_ask(body))


@router.get(
    "/reviews",
    **answers(ReviewsOut, *AUTHED),
    summary="Reviews (stewards: all; researchers: their own)",
)
def get_reviews(svc: Svc, who: Caller, status: str | None = None) -> dict[str, Any]:
    return {"reviews": svc.list_reviews(who, status)}


@router.get(
    "/me", **answers(MeOut, *AUTHED), summary="Who this token belongs to, and their projects"
)
def get_me(svc: Svc, who: Caller) -> dict[str, Any]:
    return svc.me(who)
