"""Researchers' questions in the service: answers, dry runs and budgets.

A request the gateway has answered once in this process is answered again from the
release cache (``_fast``) without parsing it or opening the warehouse.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from enclave.errors import NotFound
from enclave.gateway import dry_run as gateway_dry_run
from enclave.gateway.pipeline import answer_request
from enclave.service import _fast
from enclave.store import BudgetLimits

if TYPE_CHECKING:
    from enclave.gateway import GatewayContext
    from enclave.service._access import Access
    from enclave.service._policies import Policies
    from enclave.service._values import Question
    from enclave.store import Principal, Store

__all__ = ["Queries"]


class Queries:
    """Answer queries and report budgets.

    Args:
        store: the metadata store (release cache, ledger, audit).
        policies: the effective project policies.
        access: roles and memberships.
        context_of: the gateway's context for one project.
        memo: what the gateway used for requests it answered in this process.
    """

    def __init__(
        self,
        store: Store,
        policies: Policies,
        access: Access,
        context_of: Callable[[str], GatewayContext],
        memo: _fast.Memo,
    ) -> None:
        self._store = store
        self._policies = policies
        self._access = access
        self._context_of = context_of
        self._memo = memo

    def query(self, principal: Principal, question: Question, *, dry_run: bool) -> dict[str, Any]:
        """Answer (or dry-run, with ``dry_run``) one query as JSON-ready data."""
        project = self._access.pick_project(principal, question.project)
        request = question.request(project, principal.user)
        memo_key = _fast.memo_key(request)
        known = self._memo.get(memo_key)
        if known is not None and not dry_run and principal.role == "researcher":
            policy_of = functools.partial(self._policies.policy_of, project)
            hit = _fast.answer_cached(self._store, request, known, policy_of)
            if hit is not None:
                return hit
        policy = self._access.require_member(principal, project)
        if dry_run:
            return gateway_dry_run(request, self._context_of(project))
        got = answer_request(request, self._context_of(project))
        self._memo.put(memo_key, (got.cache_key, got.sql_hash, _fast.fingerprint(policy)))
        return got.release.to_json()

    def budget(
        self, principal: Principal, project: str, member: str | None = None
    ) -> dict[str, Any]:
        """Total, spent and remaining budget (a researcher also sees their own share; a
        steward sees ``member``'s when named)."""
        if principal.role == "steward":
            policy = self._policies.approved(project)
            if member is not None and member not in policy.members:
                raise NotFound(f"{member!r} is not a member of {project!r}; check the user id.")
        else:
            policy = self._access.require_member(principal, project)
        user = principal.user if principal.role == "researcher" else member
        status = self._store.budget(project, BudgetLimits.from_policy(policy), user=user)
        return status.to_json()
