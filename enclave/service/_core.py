"""``Service``: the one layer the CLI, the HTTP API and the dashboards call.

It checks who is asking (token → principal → role and project membership) before
anything reaches the gateway, merges store-approved projects into the policies the
gateway sees, and answers repeated questions from the release cache without opening
the warehouse.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
import threading
from typing import Any

from enclave.errors import Forbidden, NotFound, UserError
from enclave.gateway import GatewayContext, QueryRequest
from enclave.gateway import dry_run as gateway_dry_run
from enclave.gateway.pipeline import answer_request, front
from enclave.gateway.release.cached import cache_key
from enclave.policy import DatasetPolicy, ProjectPolicy, load_dataset_policy, load_project_policies
from enclave.service import _fast
from enclave.service._ceiling import CeilingMixin, check_policy_files
from enclave.service._projects import effective_policy
from enclave.service._steward import StewardMixin
from enclave.service._wiring import LazyEngine
from enclave.settings import Settings
from enclave.store import ProjectState, open_store

__all__ = ["Service"]


class Service(CeilingMixin, StewardMixin):
    """Accounts, projects, queries and budgets over one ``ENCLAVE_HOME``.

    Args:
        settings: where the enclave lives.
    """

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.engine = LazyEngine(settings)
        self._store: Any = None
        self._dataset: DatasetPolicy | None = None
        self._file_projects: dict[str, ProjectPolicy] | None = None
        self._lock = threading.Lock()
        self.memo = _fast.Memo()

    @classmethod
    def open(cls, settings: Settings, **options: Any) -> Service:
        return cls(settings, **options)

    def close(self) -> None:
        self.engine.close()
        if self._store is not None:
            self._store.close()

    # -- what the service is built on ------------------------------------------------
    @property
    def store(self) -> Any:
        if self._store is None:
            with self._lock:
                if self._store is None:
                    self._store = open_store(self.settings)
        return self._store

    @property
    def dataset(self) -> DatasetPolicy:
        if self._dataset is None:
            self._dataset = load_dataset_policy(self.settings.policies_dir / "dataset.toml")
        return self._dataset

    @property
    def file_projects(self) -> dict[str, ProjectPolicy]:
        if self._file_projects is None:
            found = load_project_policies(self.settings.policies_dir / "projects", self.dataset)
            check_policy_files(self.dataset, self.store, found)  # the dataset's ceiling
            self._file_projects = dict(found)
        return self._file_projects

    def project_policy(self, project: str) -> ProjectPolicy | None:
        """The effective policy of one project (files + store), None if not queryable."""
        return self._policy_of(project, self.store.projects.state(project))

    def _policy_of(self, project: str, state: ProjectState) -> ProjectPolicy | None:
        return effective_policy(project, self.file_projects.get(project), state)

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
        ids = set(self.file_projects) | {r.id for r in self.store.projects.all()}
        return sorted(ids)

    # -- who is asking ---------------------------------------------------------------
    def authenticate(self, token: str) -> Any:
        """The principal behind a bearer token (raises Unauthorized)."""
        return self.store.authenticate(token)

    def projects_of(self, principal: Any) -> list[str]:
        """Projects the principal is a member of (stewards: every project)."""
        if principal.role == "steward":
            return self.project_ids()
        if principal.role != "researcher":
            return []
        mine = set(self.store.memberships(principal.user))
        mine |= {p for p, pol in self.file_projects.items() if principal.user in pol.members}
        return sorted(mine)

    def me(self, principal: Any) -> dict[str, Any]:
        return {
            "user": principal.user,
            "role": principal.role,
            "projects": self.projects_of(principal),
        }

    def _pick_project(self, principal: Any, project: str | None) -> str:
        if project:
            return project
        mine = self.projects_of(principal) if principal.role == "researcher" else []
        if len(mine) == 1:
            return mine[0]
        raise UserError('Name the project ("project": "…"); you are in none or several.')

    def require_member(self, principal: Any, project: str) -> ProjectPolicy:
        """The project's policy if the principal may query it; Forbidden/NotFound if not."""
        if principal.role != "researcher":
            raise Forbidden("Only researchers may query; use a researcher's token.")
        policy = self.project_policy(project)
        if policy is None:
            record = self.store.project(project)
            if record is None and project not in self.file_projects:
                raise NotFound(f"There is no project {project!r}; check the project id.")
            status = record.status if record is not None else "not approved"
            raise Forbidden(f"Project {project!r} is {status}; it cannot be queried yet.")
        if principal.user not in policy.members:
            raise Forbidden(f"You are not a member of project {project!r}; ask its steward.")
        if policy.status == "suspended":
            raise Forbidden(f"Project {project!r} is suspended; ask its steward.")
        return policy

    # -- researchers -----------------------------------------------------------------
    def query(
        self,
        principal: Any,
        sql: str,
        project: str | None,
        *,
        epsilon: float | None = None,
        half_width: float | None = None,
        dry_run: bool = False,
    ) -> dict[str, Any]:
        """Answer (or dry-run, with ``dry_run``) one query as JSON-ready data."""
        project = self._pick_project(principal, project)
        request = QueryRequest(
            sql=sql, project=project, user=principal.user, epsilon=epsilon, half_width=half_width
        )
        memo_key = _fast.memo_key(request)
        known = self.memo.get(memo_key)
        if known is not None and not dry_run and principal.role == "researcher":
            policy_of = functools.partial(self._policy_of, project)
            hit = _fast.answer_cached(self.store, request, known, policy_of)
            if hit is not None:
                return hit
        policy = self.require_member(principal, project)
        if dry_run:
            return gateway_dry_run(request, self.context(project))
        got = answer_request(request, self.context(project))
        self.memo.put(memo_key, (got.cache_key, got.sql_hash, _fast.fingerprint(policy)))
        return got.release.to_json()

    def dry_run(self, principal: Any, sql: str, project: str | None, **ask: Any) -> dict[str, Any]:
        """ε a query would cost and its expected 95% half-width per aggregate; no spending."""
        return self.query(principal, sql, project, dry_run=True, **ask)

    def budget(self, principal: Any, project: str, member: str | None = None) -> dict[str, Any]:
        """Total, spent and remaining budget (a researcher also sees their own share; a
        steward sees ``member``'s when named)."""
        from enclave.store import BudgetLimits

        if principal.role == "steward":
            policy = self.project_policy(project)
            if policy is None:
                raise NotFound(f"Project {project!r} has no approved budget; check the id.")
            if member is not None and member not in policy.members:
                raise NotFound(f"{member!r} is not a member of {project!r}; check the user id.")
        else:
            policy = self.require_member(principal, project)
        user = principal.user if principal.role == "researcher" else member
        status = self.store.budget(project, BudgetLimits.from_policy(policy), user=user)
        return dict(dataclasses.asdict(status))

    def submit_review(
        self,
        principal: Any,
        sql: str,
        project: str | None,
        *,
        epsilon: float | None = None,
        half_width: float | None = None,
    ) -> dict[str, Any]:
        """Queue a query above the project's review threshold for a steward's approval."""
        project = self._pick_project(principal, project)
        policy = self.require_member(principal, project)
        request = QueryRequest(
            sql=sql, project=project, user=principal.user, epsilon=epsilon, half_width=half_width
        )
        state = front(request, self.context(project))
        if policy.review_epsilon is None or state.plan.epsilon <= policy.review_epsilon:
            raise UserError("This query needs no review in this project; run it directly.")
        return self.store.reviews.submit(
            project=project,
            requester=principal.user,
            cache_key=cache_key(request, state.normalized_sql),
            sql=sql,
            epsilon=epsilon,
            half_width=half_width,
            plan_epsilon=state.plan.epsilon,
        )

    def fingerprint(self) -> str:
        """A short hash of the policies in force (for health checks and caches)."""
        text = json.dumps(sorted(self.project_ids()))
        return hashlib.sha256(text.encode()).hexdigest()[:12]
