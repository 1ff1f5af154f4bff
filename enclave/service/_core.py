"""``Service``: the one layer the CLI, the HTTP API and the dashboards call.

It checks who is asking (token → principal → role and project membership) before
anything reaches the gateway, merges store-approved projects into the policies the
gateway sees, and answers repeated questions from the release cache without opening
the warehouse.

``Service`` is built from small collaborators, each given what it needs: ``Policies``
(the dataset and project policies over the store), ``Access`` (roles, memberships),
``Queries`` (answers, dry runs, budgets), ``Reviews`` (the review queue), ``Ceiling``
(the dataset's privacy ceiling), ``Stewardship`` (projects, members, top-ups) and
``Administration`` (users, tokens, audit). Its methods hand over to them.
"""

from __future__ import annotations

import functools
import hashlib
import json
from typing import Any, Unpack

from enclave.gateway import GatewayContext
from enclave.policy import DatasetPolicy, ProjectPolicy, load_dataset_policy
from enclave.service import _fast
from enclave.service._access import Access
from enclave.service._admin import Administration
from enclave.service._ceiling import Ceiling, DatasetBudget
from enclave.service._policies import Policies
from enclave.service._queries import Queries
from enclave.service._reviews import Reviews
from enclave.service._steward import Stewardship
from enclave.service._values import Application, Precision, Question, TopUp
from enclave.service._wiring import Lazy, LazyEngine
from enclave.settings import Settings
from enclave.store import Principal, Store, open_store

__all__ = ["Service"]


class Service:
    """Accounts, projects, queries and budgets over one ``ENCLAVE_HOME``.

    The store is opened, and the collaborators built, on first use.

    Args:
        settings: where the enclave lives.
    """

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.engine = LazyEngine(settings)
        self._store: Lazy[Store] = Lazy(functools.partial(open_store, settings))
        self.memo = _fast.Memo()

    @classmethod
    def open(cls, settings: Settings, **options: Any) -> Service:
        return cls(settings, **options)

    def close(self) -> None:
        self.engine.close()
        self._store.close()

    # -- what the service is built on ------------------------------------------------
    @property
    def store(self) -> Store:
        return self._store.get()

    @functools.cached_property
    def dataset(self) -> DatasetPolicy:
        return load_dataset_policy(self.settings.policies_dir / "dataset.toml")

    @functools.cached_property
    def policies(self) -> Policies:
        return Policies(self.settings, self.dataset, self.store)

    @functools.cached_property
    def access(self) -> Access:
        return Access(self.store, self.policies)

    @functools.cached_property
    def ceiling(self) -> Ceiling:
        return Ceiling(self.settings, self.store, self.policies)

    @functools.cached_property
    def queries(self) -> Queries:
        return Queries(self.store, self.policies, self.access, self.context, self.memo)

    @functools.cached_property
    def reviews(self) -> Reviews:
        return Reviews(self.store, self.access, self.context)

    @functools.cached_property
    def stewardship(self) -> Stewardship:
        return Stewardship(self.store, self.policies, self.access, self.ceiling)

    @functools.cached_property
    def administration(self) -> Administration:
        return Administration(self.store)

    @property
    def file_projects(self) -> dict[str, ProjectPolicy]:
        return self.policies.file_projects

    def project_policy(self, project: str) -> ProjectPolicy | None:
        """The effective policy of one project (files + store), None if not queryable."""
        return self.policies.project_policy(project)

    def context(self, project: str | None = None) -> GatewayContext:
        """The gateway's context: one project (or all of them) as currently approved."""
        ids = [project] if project is not None else self.project_ids()
        projects = {p: pol for p in ids if (pol := self.project_policy(p)) is not None}
        return GatewayContext(
            settings=self.settings,
            dataset=self.dataset,
            projects=projects,
            engine=self.engine,  # type: ignore[arg-type]
            store=self.store,
        )

    @property
    def ctx(self) -> GatewayContext:
        return self.context()

    def project_ids(self) -> list[str]:
        return self.policies.project_ids()

    def fingerprint(self) -> str:
        """A short hash of the policies in force (for health checks and caches)."""
        text = json.dumps(sorted(self.project_ids()))
        return hashlib.sha256(text.encode()).hexdigest()[:12]

    # -- who is asking ---------------------------------------------------------------
    def authenticate(self, token: str) -> Principal:
        """The principal behind a bearer token (raises Unauthorized)."""
        return self.access.authenticate(token)

    def projects_of(self, principal: Principal) -> list[str]:
        """Projects the principal is a member of (stewards: every project)."""
        return self.access.projects_of(principal)

    def me(self, principal: Principal) -> dict[str, Any]:
        return self.access.me(principal)

    def require_member(self, principal: Principal, project: str) -> ProjectPolicy:
        """The project's policy if the principal may query it; Forbidden/NotFound if not."""
        return self.access.require_member(principal, project)

    # -- researchers -----------------------------------------------------------------
    def query(
        self,
        principal: Principal,
        sql: str,
        project: str | None,
        *,
        dry_run: bool = False,
        **ask: Unpack[Precision],
    ) -> dict[str, Any]:
        """Answer (or dry-run, with ``dry_run``) one query as JSON-ready data."""
        return self.queries.query(principal, Question(sql, project, **ask), dry_run=dry_run)

    def dry_run(
        self, principal: Principal, sql: str, project: str | None, **ask: Unpack[Precision]
    ) -> dict[str, Any]:
        """ε a query would cost and its expected 95% half-width per aggregate; no spending."""
        return self.query(principal, sql, project, dry_run=True, **ask)

    def budget(
        self, principal: Principal, project: str, member: str | None = None
    ) -> dict[str, Any]:
        """Total, spent and remaining budget (a researcher also sees their own share; a
        steward sees ``member``'s when named)."""
        return self.queries.budget(principal, project, member)

    def submit_review(
        self, principal: Principal, sql: str, project: str | None, **ask: Unpack[Precision]
    ) -> dict[str, Any]:
        """Queue a query above the project's review threshold for a steward's approval."""
        return self.reviews.submit(principal, Question(sql, project, **ask))

    def list_reviews(self, principal: Principal, status: str | None = None) -> list[dict[str, Any]]:
        return self.reviews.find(principal, status)

    def decide_review(
        self, principal: Principal, review_id: str, *, approve: bool, reason: str | None = None
    ) -> dict[str, Any]:
        return self.reviews.decide(principal, review_id, approve=approve, reason=reason)

    # -- the dataset's privacy ceiling -----------------------------------------------
    def dataset_budget(self, principal: Principal) -> dict[str, Any]:
        """Per dataset: the ε and δ its projects may spend on one person, spent so far,
        and what the ceiling leaves (``DatasetBudget`` as JSON)."""
        return self.ceiling.dataset_loss(principal).to_json()

    def dataset_loss(self, principal: Principal) -> DatasetBudget:
        """``dataset_budget`` as a frozen value."""
        return self.ceiling.dataset_loss(principal)

    # -- stewards: projects, members, budgets ----------------------------------------
    def apply_project(
        self,
        principal: Principal,
        project: str,
        *,
        title: str,
        purpose: str,
        tables: list[str],
        requested_epsilon: float | None,
        applicant: str | None = None,
    ) -> dict[str, Any]:
        """A researcher applies for a project (or a steward records it on their behalf)."""
        application = Application(
            project, title, purpose, tuple(tables), requested_epsilon, applicant
        )
        return self.stewardship.apply_project(principal, application)

    def approve_project(
        self, principal: Principal, project: str, rules: dict[str, Any], reason: str | None = None
    ) -> dict[str, Any]:
        """Approve a pending application (refused past the dataset's privacy ceiling)."""
        return self.stewardship.approve_project(principal, project, rules, reason)

    def set_project_status(
        self, principal: Principal, project: str, status: str, reason: str | None = None
    ) -> dict[str, Any]:
        """Reject, suspend or reactivate a project."""
        return self.stewardship.set_project_status(principal, project, status, reason)

    def list_projects(self, principal: Principal) -> list[dict[str, Any]]:
        return self.stewardship.list_projects(principal)

    def show_project(self, principal: Principal, project: str) -> dict[str, Any]:
        return self.stewardship.show_project(principal, project)

    def describe_project(self, project: str) -> dict[str, Any]:
        return self.stewardship.describe_project(project)

    def add_member(self, principal: Principal, project: str, user: str) -> dict[str, Any]:
        return self.stewardship.add_member(principal, project, user)

    def remove_member(self, principal: Principal, project: str, user: str) -> dict[str, Any]:
        return self.stewardship.remove_member(principal, project, user)

    def top_up(
        self,
        principal: Principal,
        project: str,
        *,
        epsilon: float,
        delta: float = 0.0,
        reason: str,
        member: str | None = None,
    ) -> dict[str, Any]:
        """Add budget to a project (or one member's share), with an audited reason."""
        grant = TopUp(project, epsilon, delta, reason, member)
        return self.stewardship.top_up(principal, grant)

    # -- stewards: users, tokens, audit ----------------------------------------------
    def add_user(self, principal: Principal, user: str, role: str) -> dict[str, Any]:
        return self.administration.add_user(principal, user, role)

    def issue_token(
        self, principal: Principal, user: str, ttl_days: float | None
    ) -> dict[str, Any]:
        """A new token for ``user``, shown once; with an expiry if ``ttl_days`` is given."""
        return self.administration.issue_token(principal, user, ttl_days)

    def list_tokens(self, principal: Principal, user: str) -> list[dict[str, Any]]:
        return self.administration.list_tokens(principal, user)

    def revoke_token(self, principal: Principal, token_id: str) -> dict[str, Any]:
        return self.administration.revoke_token(principal, token_id)

    def audit_export(self, principal: Principal) -> list[dict[str, Any]]:
        return self.administration.audit_export(principal)

    def audit_verify(self, principal: Principal) -> dict[str, Any]:
        return self.administration.audit_verify(principal)
