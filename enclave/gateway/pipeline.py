"""The gateway: researcher SQL in, a differentially private release out.

The gateway is an ordered tuple of small stages with one signature
(``stage(state, ctx) -> state``), run in two halves around the budget reservation:

``FRONT``  parse → authorise → check_shape → plan      (no data touched)
           cache lookup → reserve budget (store transaction, audited)
``BACK``   rewrite → execute → add_noise                (data touched, noise added)
           commit (ledger + release cache + audit, one transaction) → release

The audit record for the request is written in ``finally``, so refusals are audited too.
Once a request has reserved budget and started reading data, the charge stands even if
the request then fails: the failure itself could depend on the data.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from enclave.errors import EnclaveError, InternalError, PolicyViolation
from enclave.gateway.check.authorise import authorise
from enclave.gateway.check.check_shape import check_shape
from enclave.gateway.check.parse import parse
from enclave.gateway.deadline import check_deadline
from enclave.gateway.execute import execute
from enclave.gateway.plan.pieces import plan_pieces
from enclave.gateway.plan.planner import plan
from enclave.gateway.release.dry_run import estimate as _estimate
from enclave.gateway.release.losses import verify_losses
from enclave.gateway.release.noise import add_noise
from enclave.gateway.sql.rewrite import rewrite
from enclave.gateway.values import GatewayContext, QueryRequest, QueryState, Release

__all__ = ["BACK", "FRONT", "answer", "cache_key", "dry_run"]

Stage = Callable[[QueryState, GatewayContext], QueryState]

FRONT: tuple[Stage, ...] = (parse, authorise, check_shape, plan)
BACK: tuple[Stage, ...] = (rewrite, execute, add_noise)


def _run(stages: tuple[Stage, ...], state: QueryState, ctx: GatewayContext) -> QueryState:
    for stage in stages:
        state = stage(state, ctx)
        if not isinstance(state, QueryState):
            raise InternalError(f"stage {stage.__name__} returned no state")
        check_deadline(state.deadline, ctx.settings.query_timeout_s)
    return state


def sql_hash(state: QueryState) -> str:
    text = state.normalized_sql or state.request.sql
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def cache_key(state: QueryState) -> str:
    """Same normalised SQL, same ε (or half-width), same project ⇒ same release."""
    req = state.request
    ask = {"sql": state.normalized_sql, "epsilon": req.epsilon, "half_width": req.half_width}
    return hashlib.sha256(json.dumps(ask, sort_keys=True).encode()).hexdigest()


def _limits(ctx: GatewayContext, project: str) -> Any:
    from enclave.store import BudgetLimits

    return BudgetLimits.from_policy(ctx.projects[project])


def _remaining(ctx: GatewayContext, state: QueryState) -> dict[str, Any]:
    req = state.request
    status = ctx.store.budget(req.project, _limits(ctx, req.project), user=req.user)
    return dataclasses.asdict(status)


def _release_from_cache(stored: dict[str, Any], remaining: dict[str, Any]) -> Release:
    fields = {f.name for f in dataclasses.fields(Release)}
    data = {k: v for k, v in stored.items() if k in fields}
    data["columns"] = tuple(data["columns"])
    data["rows"] = tuple(tuple(r) for r in data["rows"])
    data["notes"] = tuple(data.get("notes") or ())
    data.update(cached=True, epsilon_spent=0.0, delta_spent=0.0, budget_remaining=remaining)
    return Release(**data)


def _check_review(state: QueryState, ctx: GatewayContext) -> None:
    project = state.project
    plan_ = state.plan
    if project is None or plan_ is None:
        raise InternalError("front half left no project or plan")
    review = getattr(ctx.store, "approved_for_review", None)
    if project.review_epsilon is not None and plan_.epsilon > project.review_epsilon:
        if review is None or not review(state.request.project, cache_key(state)):
            raise PolicyViolation(
                f"Queries above ε={project.review_epsilon:g} need a steward's approval in this "
                "project; submit it for review or lower epsilon."
            )


@dataclass
class _Outcome:
    """What the audit record of one request says; filled in as the request goes on."""

    state: QueryState
    verdict: str = "refused"
    epsilon: float = 0.0
    delta: float = 0.0


@contextmanager
def _audited(request: QueryRequest, ctx: GatewayContext, action: str) -> Iterator[_Outcome]:
    """Audit the request in ``finally`` (refusals too); turn surprises into InternalError."""
    from enclave.store import AuditRecord

    deadline = time.monotonic() + float(ctx.settings.query_timeout_s)
    outcome = _Outcome(QueryState(request=request, deadline=deadline))
    error_type: str | None = None
    try:
        yield outcome
    except EnclaveError as exc:
        error_type = type(exc).__name__
        raise
    except Exception as exc:
        error_type = "InternalError"
        raise InternalError(f"unexpected {type(exc).__name__} in the gateway") from exc
    finally:
        charged = outcome.verdict == "released"
        ctx.store.audit(
            AuditRecord.now(
                request_id=request.request_id,
                actor=request.user,
                project=request.project,
                action=action,
                sql_hash=sql_hash(outcome.state),
                verdict=outcome.verdict,
                epsilon=outcome.epsilon if charged else 0.0,
                delta=outcome.delta if charged else 0.0,
                error_type=error_type,
            )
        )


def answer(request: QueryRequest, ctx: GatewayContext) -> Release:
    """Answer one request with a differentially private release, or raise a UserError."""
    with _audited(request, ctx, "query") as out:
        out.state = state = _run(FRONT, out.state, ctx)
        if state.plan is None:
            raise InternalError("the plan stage produced no plan")
        key = cache_key(state)
        stored = ctx.store.cached_release(request.project, key)
        if stored is not None:
            out.verdict = "cached"
            return _release_from_cache(stored, _remaining(ctx, state))
        _check_review(state, ctx)
        out.epsilon, out.delta = state.plan.epsilon, state.plan.delta
        reservation = ctx.store.reserve(
            project=request.project,
            user=request.user,
            epsilon=out.epsilon,
            delta=out.delta,
            request_id=request.request_id,
            sql_hash=sql_hash(state),
            limits=_limits(ctx, request.project),
        )
        state = dataclasses.replace(state, reservation=reservation)
        out.state = state = _run(BACK, state, ctx)
        _check_privacy_loss(state)
        release = _build_release(state, out.epsilon, out.delta)
        check_deadline(state.deadline, ctx.settings.query_timeout_s)
        ctx.store.commit(reservation, cache_key=key, release=release.to_json())
        out.verdict = "released"
        return dataclasses.replace(release, budget_remaining=_remaining(ctx, state))


def _check_privacy_loss(state: QueryState) -> None:
    """The ε and δ of the measurements that ran must fit the charge (``_losses``)."""
    plan = state.plan
    if plan is None:
        raise InternalError("no plan after the back half")
    per_group = [
        p.id for p in plan_pieces(plan.aggregates, plan.epsilon_split) if p.stat == "quantile"
    ]
    verify_losses(
        plan.epsilon_split,
        plan.epsilon,
        plan.delta,
        state.measurements,
        parallel=per_group,
        optional=per_group,
    )


def _build_release(state: QueryState, eps: float, delta: float) -> Release:
    if state.release is not None:
        return dataclasses.replace(
            state.release, epsilon_spent=eps, delta_spent=delta, release_id=uuid.uuid4().hex
        )
    raise InternalError("add_noise produced no release")


def dry_run(request: QueryRequest, ctx: GatewayContext) -> dict[str, Any]:
    """What a query would cost and how accurate it would be; spends nothing."""
    with _audited(request, ctx, "estimate") as out:
        out.state = state = _run(FRONT, out.state, ctx)
        est = _estimate(state, ctx)
        out.verdict = "estimated"
        result: dict[str, Any] = (
            est.to_json() if hasattr(est, "to_json") else dataclasses.asdict(est)
        )
        result["budget_remaining"] = _remaining(ctx, state)
        return result
