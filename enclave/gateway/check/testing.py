"""Small builders for docs, doctests and tests of the front half (no engine, no store).

>>> ctx = example_context()
>>> "demo" in ctx.projects and ctx.engine is None
True
>>> request_state("SELECT 1").request.project
'demo'
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from enclave.gateway.values import GatewayContext, QueryRequest, Requested
from enclave.policy import load_dataset_policy, load_project_policies
from enclave.settings import REPO_POLICIES

__all__ = ["POLICIES", "example_context", "request_state"]

POLICIES = REPO_POLICIES

_MEMBERS = {"demo": "researcher@demo", "pharmacy": "pharmacist@uni"}


def example_context(policies: Path = POLICIES) -> GatewayContext:
    """A context over the shipped example policies; engine and store are None."""
    dataset = load_dataset_policy(policies / "dataset.toml")
    projects = load_project_policies(policies / "projects", dataset)
    none: Any = None
    return GatewayContext(
        settings=none, dataset=dataset, projects=projects, engine=none, store=none
    )


def request_state(sql: str, project: str = "demo", user: str | None = None) -> Requested:
    """A fresh state for ``sql`` asked by a member of ``project``."""
    member = user if user is not None else _MEMBERS.get(project, "researcher@demo")
    return Requested(request=QueryRequest(sql=sql, project=project, user=member))
