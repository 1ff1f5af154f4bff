"""Who is asking: token → principal → role and project membership.

``Access`` answers the questions every service action asks first (which projects is this
principal in, may they query this one); ``require_steward`` refuses anyone but a steward.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from enclave.errors import Forbidden, NotFound, UserError

if TYPE_CHECKING:
    from enclave.policy import ProjectPolicy
    from enclave.service._policies import Policies
    from enclave.store import Principal, Store

__all__ = ["Access", "require_steward"]


def require_steward(principal: Principal) -> None:
    """Forbidden unless ``principal`` is a steward."""
    if principal.role != "steward":
        raise Forbidden("Only a steward may do this; use a steward's token.")


class Access:
    """Roles and memberships over one store and its policies.

    Args:
        store: the metadata store (tokens, memberships, project records).
        policies: the effective project policies.
    """

    def __init__(self, store: Store, policies: Policies) -> None:
        self._store = store
        self._policies = policies

    def authenticate(self, token: str) -> Principal:
        """The principal behind a bearer token (raises Unauthorized)."""
        return self._store.accounts.authenticate(token)

    def projects_of(self, principal: Principal) -> list[str]:
        """Projects the principal is a member of (stewards: every project)."""
        if principal.role == "steward":
            return self._policies.project_ids()
        if principal.role != "researcher":
            return []
        mine = set(self._store.projects.memberships(principal.user))
        files = self._policies.file_projects.items()
        mine |= {p for p, pol in files if principal.user in pol.members}
        return sorted(mine)

    def me(self, principal: Principal) -> dict[str, Any]:
        return {
            "user": principal.user,
            "role": principal.role,
            "projects": self.projects_of(principal),
        }

    def pick_project(self, principal: Principal, project: str | None) -> str:
        """``project``, or the researcher's only project when none is named."""
        if project:
            return project
        mine = self.projects_of(principal) if principal.role == "researcher" else []
        if len(mine) == 1:
            return mine[0]
        raise UserError('Name the project ("project": "…"); you are in none or several.')

    def require_member(self, principal: Principal, project: str) -> ProjectPolicy:
        """The project's policy if the principal may query it; Forbidden/NotFound if not."""
        if principal.role != "researcher":
            raise Forbidden("Only researchers may query; use a researcher's token.")
        policy = self._policies.project_policy(project)
        if policy is None:
            record = self._store.projects.get(project)
            if record is None and project not in self._policies.file_projects:
                raise NotFound(f"There is no project {project!r}; check the project id.")
            status = record.status if record is not None else "not approved"
            raise Forbidden(f"Project {project!r} is {status}; it cannot be queried yet.")
        if principal.user not in policy.members:
            raise Forbidden(f"You are not a member of project {project!r}; ask its steward.")
        if policy.status == "suspended":
            raise Forbidden(f"Project {project!r} is suspended; ask its steward.")
        return policy
