"""The gateway: researcher SQL in, a differentially private release out.

The gateway is two ordered tuples of small stages, each ``stage(state, ctx) -> next state``
over frozen values (``values``: Requested → … → Noised), run around the reservation:

``FRONT``  parse → authorise → check_shape → plan                  (no data touched)
           cache lookup → review check → reserve budget (one store transaction)
``BACK``   rewrite → execute → choose_bound → read_histograms → add_noise
           (``execute`` and ``read_histograms`` read data; ``choose_bound`` and
           ``add_noise`` are the DP releases on it)
           privacy-loss check → commit (ledger + release cache + audit) → release

The audit record is written in ``finally``, so refusals are audited too. Once budget is
reserved and data read, the charge stands even if the request then fails: the failure
itself could depend on the data. One deadline covers the whole request.
"""

from __future__ import annotations

import dataclasses
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
from enclave.gateway.deadline import check_deadline, request_limit
from enclave.gateway.execute import execute, read_histograms
from enclave.gateway.plan.pieces import plan_pieces
from enclave.gateway.plan.planner import plan
from enclave.gateway.release.bound import choose_bound
from enclave.gateway.release.cached import audit_record, cache_key, from_cache, sql_hash
from enclave.gateway.release.dry_run import dry_run_of, refusal
from enclave.gateway.release.losses import verify_losses
from enclave.gateway.release.noise import add_noise
from enclave.gateway.sql.rewrite import rewrite
from enclave.gateway.values import (
    GatewayContext,
    Noised,
    Planned,
    QueryRequest,
    Release,
    Requested,
)

__all__ = ["BACK", "FRONT", "Answer", "answer", "answer_request", "dry_run", "front"]

Stage = Callable[[Any, GatewayContext], Any]

FRONT: tuple[Stage, ...] = (parse, authorise, check_shape, plan)
BACK: tuple[Stage, ...] = (rewrite, execute, choose_bound, read_histograms, add_noise)


@dataclass(frozen=True)
class Answer:
    """What the service needs back: the release and the keys the gateway used for it."""

    release: Release
    cache_key: str
    sql_hash: str


def _run(stages: tuple[Stage, ...], state: Any, ctx: GatewayContext) -> Any:
    for stage in stages:
        state = stage(state, ctx)
        check_deadline(state.deadline, request_limit(ctx.settings))
    return state


def front(request: QueryRequest, ctx: GatewayContext, deadline: float | None = None) -> Planned:
    """The planned query (parse → authorise → check_shape → plan); reads no data."""
    limit = request_limit(ctx.settings)
    start = Requested(request=request, deadline=deadline or time.monotonic() + limit)
    planned: Planned = _run(FRONT, start, ctx)
    return planned


def _limits(ctx: GatewayContext, project: str) -> Any:
    from enclave.store import BudgetLimits

    return BudgetLimits.from_policy(ctx.projects[project])


def _remaining(ctx: GatewayContext, request: QueryRequest) -> dict[str, Any]:
    status = ctx.store.budget(request.project, _limits(ctx, request.project), user=request.user)
    return status.to_json()


def _check_review(state: Planned, ctx: GatewayContext) -> None:
    project = state.project
    if project.review_epsilon is not None and state.plan.epsilon > project.review_epsilon:
        key = cache_key(state.request, state.normalized_sql)
        if not ctx.store.approved_for_review(state.request.project, key):
            raise PolicyViolation(
                f"Queries above ε={project.review_epsilon:g} need a steward's approval in this "
                "project; submit it for review (enclave query … --submit-review, or POST "
                "/v1/reviews) or lower epsilon."
            )


@dataclass
class _Outcome:
    """What the audit record of one request says; filled in as the request goes on."""

    digest: str
    verdict: str = "refused"
    epsilon: float = 0.0
    delta: float = 0.0


@contextmanager
def _audited(request: QueryRequest, ctx: GatewayContext, action: str) -> Iterator[_Outcome]:
    """Audit the request in ``finally`` (refusals too); turn surprises into InternalError."""
    outcome = _Outcome(sql_hash(request.sql))
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
        record = audit_record(
            request,
            action=action,
            digest=outcome.digest,
            verdict=outcome.verdict,
            epsilon=outcome.epsilon if charged else 0.0,
            delta=outcome.delta if charged else 0.0,
            error_type=error_type,
        )
        ctx.store.audit(record)


def _check_privacy_loss(state: Noised) -> None:
    """The ε and δ of the measurements that ran must fit the charge (``release.losses``)."""
    per_group = [
        p.id
        for p in plan_pieces(state.plan.aggregates, state.plan.epsilon_split)
        if p.stat == "quantile"
    ]
    verify_losses(
        state.plan.epsilon_split,
        state.plan.epsilon,
        state.plan.delta,
        state.measurements,
        parallel=per_group,
        optional=per_group,
        rho_split=state.plan.rho_split or None,
        rho=state.plan.rho,
    )


def answer_request(request: QueryRequest, ctx: GatewayContext) -> Answer:
    """Answer one request with a differentially private release, or raise a UserError."""
    with _audited(request, ctx, "query") as out:
        state = front(request, ctx)
        key, out.digest = cache_key(request, state.normalized_sql), sql_hash(state.normalized_sql)
        stored = ctx.store.cached_release(request.project, key)
        if stored is not None:
            out.verdict = "cached"
            return Answer(from_cache(stored, _remaining(ctx, request)), key, out.digest)
        _check_review(state, ctx)
        out.epsilon, out.delta = state.plan.epsilon, state.plan.delta
        from enclave.store import BudgetAsk

        ask = BudgetAsk(
            project=request.project,
            user=request.user,
            epsilon=out.epsilon,
            delta=out.delta,
            request_id=request.request_id,
            sql_hash=out.digest,
            limits=_limits(ctx, request.project),
            rho=state.plan.rho,
        )
        reservation = ctx.store.reserve(ask)
        noised: Noised = _run(BACK, state, ctx)
        _check_privacy_loss(noised)
        release = dataclasses.replace(
            noised.release,
            epsilon_spent=out.epsilon,
            delta_spent=out.delta,
            release_id=uuid.uuid4().hex,
        )
        check_deadline(noised.deadline, request_limit(ctx.settings))
        ctx.store.commit(reservation, cache_key=key, release=release.to_json())
        out.verdict = "released"
        remaining = _remaining(ctx, request)
        return Answer(dataclasses.replace(release, budget_remaining=remaining), key, out.digest)


def answer(request: QueryRequest, ctx: GatewayContext) -> Release:
    """The release for one request (``answer_request`` without the keys)."""
    return answer_request(request, ctx).release


def dry_run(request: QueryRequest, ctx: GatewayContext) -> dict[str, Any]:
    """What a query would cost and how accurate it would be, whether it is cached (then it
    costs nothing) and whether it would be refused as asked now; reads and spends nothing."""
    with _audited(request, ctx, "dry_run") as out:
        state = front(request, ctx)
        out.digest = sql_hash(state.normalized_sql)
        result = dry_run_of(state, ctx).to_json()
        out.verdict = "estimated"
        result["budget_remaining"] = remaining = _remaining(ctx, request)
        key = cache_key(request, state.normalized_sql)
        result["cached"] = ctx.store.cached_release(request.project, key) is not None
        result["refusal"] = (
            None
            if result["cached"]
            else refusal(state.plan, remaining, _review_refusal(state, ctx))
        )
        return result


def _review_refusal(state: Planned, ctx: GatewayContext) -> str | None:
    """The review refusal the query would meet, as its message (None: no review needed)."""
    try:
        _check_review(state, ctx)
    except PolicyViolation as exc:
        return exc.message
    return None
