"""``Policies``: the dataset policy and every project's effective policy.

The project policy files are read once (and checked against the dataset's privacy
ceiling); each project's effective policy merges its file with what stewards did in the
store (see ``_projects.effective_policy``).
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING

from enclave.errors import NotFound
from enclave.policy import load_project_policies
from enclave.service._projects import effective_policy
from enclave.service._refuse import check_policy_files

if TYPE_CHECKING:
    from enclave.policy import DatasetPolicy, ProjectPolicy
    from enclave.settings import Settings
    from enclave.store import ProjectState, Store

__all__ = ["Policies"]


class Policies:
    """The policies in force over one store.

    Args:
        settings: where the policy files are.
        dataset: the dataset policy.
        store: the metadata store (project states, members, approval rules).
    """

    def __init__(self, settings: Settings, dataset: DatasetPolicy, store: Store) -> None:
        self._settings = settings
        self.dataset = dataset
        self._store = store

    def unchecked_files(self) -> dict[str, ProjectPolicy]:
        """The project policy files as they are, even past the ceiling."""
        return load_project_policies(self._settings.policies_dir / "projects", self.dataset)

    @functools.cached_property
    def file_projects(self) -> dict[str, ProjectPolicy]:
        """The project policy files, refused (PolicyViolation) past the ceiling."""
        found = self.unchecked_files()
        check_policy_files(self.dataset, self._store, found)
        return dict(found)

    def project_policy(self, project: str) -> ProjectPolicy | None:
        """The effective policy of one project (files + store), None if not queryable."""
        return self.policy_of(project, self._store.projects.state(project))

    def approved(self, project: str) -> ProjectPolicy:
        """The effective policy of a project with a budget; NotFound if it has none."""
        policy = self.project_policy(project)
        if policy is None:
            raise NotFound(f"Project {project!r} has no approved budget; check the id.")
        return policy

    def policy_of(self, project: str, state: ProjectState) -> ProjectPolicy | None:
        """The effective policy of ``project`` given its ``state`` in the store."""
        return effective_policy(project, self.file_projects.get(project), state)

    def project_ids(self) -> list[str]:
        """Every project: policy files and store records."""
        return sorted(set(self.file_projects) | {r.id for r in self._store.projects.all()})
