"""The review queue in the service: researchers submit queries above their project's
review threshold; stewards list and decide them.

A submitted query goes through the gateway's front half (``front``) so that its ε and
its cache key are the ones the gateway will see when the approved query is run.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from enclave.errors import Forbidden, UserError
from enclave.gateway.pipeline import front
from enclave.gateway.release.cached import cache_key
from enclave.service._access import require_steward
from enclave.service._validate import review_status

if TYPE_CHECKING:
    from enclave.gateway import GatewayContext
    from enclave.service._access import Access
    from enclave.service._values import Question
    from enclave.store import Principal, Store

__all__ = ["Reviews"]


class Reviews:
    """Submit, list and decide reviews.

    Args:
        store: the metadata store (the review queue).
        access: roles and memberships.
        context_of: the gateway's context for one project.
    """

    def __init__(
        self, store: Store, access: Access, context_of: Callable[[str], GatewayContext]
    ) -> None:
        self._store = store
        self._access = access
        self._context_of = context_of

    def submit(self, principal: Principal, question: Question) -> dict[str, Any]:
        """Queue a query above the project's review threshold for a steward's approval."""
        project = self._access.pick_project(principal, question.project)
        policy = self._access.require_member(principal, project)
        request = question.request(project, principal.user)
        state = front(request, self._context_of(project))
        if policy.review_epsilon is None or state.plan.epsilon <= policy.review_epsilon:
            raise UserError("This query needs no review in this project; run it directly.")
        return self._store.reviews.submit(
            project=project,
            requester=principal.user,
            cache_key=cache_key(request, state.normalized_sql),
            sql=question.sql,
            epsilon=question.epsilon,
            half_width=question.half_width,
            plan_epsilon=state.plan.epsilon,
        )

    def find(self, principal: Principal, status: str | None = None) -> list[dict[str, Any]]:
        """Stewards see every review; researchers their own."""
        review_status(status)
        if principal.role == "steward":
            return self._store.reviews.list(status=status)
        if principal.role == "researcher":
            return self._store.reviews.list(status=status, requester=principal.user)
        raise Forbidden("The public role may only read published releases.")

    def decide(
        self, principal: Principal, review_id: str, *, approve: bool, reason: str | None = None
    ) -> dict[str, Any]:
        require_steward(principal)
        return self._store.reviews.decide(
            review_id, approve=approve, steward=principal.user, reason=reason
        )
