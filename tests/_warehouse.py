"""A small synthetic warehouse (``tests._data``) and the gateway stages run on it, for
back-half tests.

No real identifiers: person ids are random hex tokens. One person (``HEAVY_INDEX``) has 500
claims so that contribution bounds are visible.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

from tests._data import WAREHOUSE, frames, write

__all__ = [
    "HEAVY_INDEX",
    "REGIONS",
    "build",
    "context",
    "front",
    "heavy_context",
    "noise_draws",
    "planned",
    "run",
]

REGIONS = WAREHOUSE.regions
#: The person with ``heavy_rows`` claims.
HEAVY_INDEX = 0


def build(path: Path, persons: int = 2000, seed: int = 7, heavy_rows: int = 500) -> Path:
    """The warehouse (``tests._data.WAREHOUSE``: "Penghu" rare-ish, category "other" absent,
    no diagnoses or prescriptions) at ``path``."""
    return write(path, frames(persons, seed, dataclasses.replace(WAREHOUSE, heavy_rows=heavy_rows)))


def heavy_context(home: Path, **contribution):
    """A context (``contribution`` changed) over a warehouse of one person with 500 claims."""
    return context(build(home / "w.duckdb", persons=1, heavy_rows=500), home, **contribution)


def context(path: Path, home: Path, **contribution):
    """A GatewayContext over the warehouse at ``path`` with the example policies."""
    from enclave.engines.duckdb import DuckDBEngine
    from enclave.gateway.values import GatewayContext
    from enclave.policy import load_dataset_policy, load_project_policies
    from enclave.settings import REPO_POLICIES, Settings

    settings = Settings(home=home)
    ds = load_dataset_policy(REPO_POLICIES / "dataset.toml")
    if contribution:
        ds = dataclasses.replace(
            ds, contribution=dataclasses.replace(ds.contribution, **contribution)
        )
    projects = load_project_policies(REPO_POLICIES / "projects", ds)
    return GatewayContext(settings, ds, projects, DuckDBEngine(path, settings), None)


def front(sql: str, ctx, project: str = "demo", **request):
    """The state after the real front half (parse → authorise → check_shape)."""
    from enclave.gateway.check.authorise import authorise
    from enclave.gateway.check.check_shape import check_shape
    from enclave.gateway.check.parse import parse
    from enclave.gateway.values import QueryRequest, Requested

    user = ctx.projects[project].members[0] if ctx.projects[project].members else "u"
    state = Requested(request=QueryRequest(sql, project, user, **request))
    for stage in (parse, authorise, check_shape):
        state = stage(state, ctx)
    return state


def planned(sql: str, ctx, **request):
    """The state after the front half and ``plan``."""
    from enclave.gateway.plan.planner import plan

    return plan(front(sql, ctx, **request), ctx)


def run(state, ctx):
    """plan, then the whole back half (``pipeline.BACK``)."""
    from enclave.gateway.pipeline import BACK
    from enclave.gateway.plan.planner import plan

    for stage in (plan, *BACK):
        state = stage(state, ctx)
    return state


def noise_draws(state, ctx, runs: int) -> tuple[Any, dict[str, Any], dict[str, Any]]:
    """``add_noise`` run ``runs`` times on a state planned and bounded up to it: the exact
    values of the plan's pieces, the first release's mechanisms, and each output column's
    ``runs`` released values (a NumPy array)."""
    import numpy as np

    from enclave.gateway.plan.pieces import exact_values
    from enclave.gateway.release.noise import add_noise

    (exact_row,) = state.exact[1]
    p = state.plan
    exact = exact_values(p.aggregates, p.epsilon_split, exact_row)
    releases = [add_noise(state, ctx).release for _ in range(runs)]
    rows = np.array([r.rows[0] for r in releases], dtype=float)
    columns = {c: rows[:, i] for i, c in enumerate(p.output_columns)}
    return exact, releases[0].mechanisms, columns
