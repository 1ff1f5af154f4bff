"""Small synthetic warehouses whose exact answers a test can compute by hand.

``write_world(path, …)`` writes (``tests._data.RELEASE``) all five canonical tables with values well inside the
policy bounds and few rows per person (at most ``MAX_CLAIMS``), so that with a fixed rows
bound of at least ``MAX_CLAIMS`` nothing is dropped or clamped and the bounded exact answer
is the plain SQL answer over the stored rows. Some persons have no claims (LEFT JOIN gives
NULLs), some have a NULL region, and ``heavy`` persons can be given many joined rows.
Person ids are random hex tokens; nothing here is real.

``gateway(settings, …)`` opens a context over such a warehouse with budgets large enough
for repeated releases, and ``stages`` / ``noise_again`` run the gateway's stages on it.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from tests._data import RELEASE, START, frames, persons_frame, write

__all__ = [
    "MAX_CLAIMS",
    "REGIONS",
    "exact",
    "gateway",
    "noise_again",
    "stages",
    "write_keys_world",
    "write_world",
]

REGIONS = RELEASE.regions
PROVIDERS = tuple(f"p{i}" for i in range(RELEASE.providers))
#: At most this many claims a person (``tests._data.RELEASE``).
MAX_CLAIMS = 6


def write_world(
    path: Path, *, persons: int = 600, seed: int = 5, shuffle_seed: int | None = None,
    **population: Any,
) -> Path:  # fmt: skip
    """Write the warehouse; ``shuffle_seed`` stores the same rows in another order.
    ``population`` changes fields of ``RELEASE``: a share of ``null_regions``, or ``heavy``
    persons with ``heavy_rows`` claims, each with a prescription."""
    pop = dataclasses.replace(RELEASE, **population)
    return write(path, frames(persons, seed, pop), shuffle_seed=shuffle_seed)


def write_keys_world(path: Path, *, top: int = 36, copies: int = 5, seed: int = 9) -> Path:
    """One claim per person; for each ``j = 1 … top``, ``copies`` private codes
    ``Qjj.k`` are held by exactly ``j`` persons each, so every person count near a
    threshold has several keys."""
    rng = np.random.default_rng(seed)
    codes = [f"Q{j:02d}.{k}" for j in range(1, top + 1) for k in range(copies) for _ in range(j)]
    n = len(codes)
    pid = np.array([rng.bytes(8).hex() for _ in range(n)])
    tables = {
        "persons": persons_frame(rng, pid, dataclasses.replace(RELEASE, null_regions=None)),
        "claims": pd.DataFrame(
            {
                "claim_id": [f"c{i:07x}" for i in range(n)],
                "person_id": pid,
                "provider_id": rng.choice(PROVIDERS, n),
                "visit_date": [START + dt.timedelta(days=int(d)) for d in rng.integers(0, 730, n)],
                "setting": "outpatient",
                "icd10": codes,
                "amount": np.round(rng.uniform(10, 3000, n), 2),
                "los_days": 0,
            }
        ),
    }
    return write(path, tables)


def exact(ctx: Any, sql: str) -> list[tuple[Any, ...]]:
    """The plain SQL answer over the stored rows (the engine's connection, no gateway)."""
    _, rows = ctx.engine.execute(sql)
    return [tuple(r) for r in rows]


def gateway(settings: Any, **contribution: Any) -> Any:
    """A context over ``settings``' home with large budgets and the given contribution."""
    from enclave.service import open_context

    ctx = open_context(settings)
    ds = ctx.dataset
    if contribution:
        ds = dataclasses.replace(
            ds, contribution=dataclasses.replace(ds.contribution, **contribution)
        )
    projects = {
        name: dataclasses.replace(
            p, epsilon=1e9, member_epsilon=None, delta=0.5, max_epsilon_per_query=1e3
        )
        for name, p in ctx.projects.items()
    }
    return dataclasses.replace(ctx, dataset=ds, projects=projects)


def stages(ctx: Any, sql: str, epsilon: float = 1.0, upto: int | None = None) -> Any:
    """The state after the front half and the first ``upto`` back stages (default: every
    back stage but the noise, so the state holds the exact bounded totals)."""
    from enclave.gateway import BACK, FRONT, QueryRequest, Requested

    state = Requested(request=QueryRequest(sql, "demo", "researcher@demo", epsilon=epsilon))
    back = BACK[:-1] if upto is None else BACK[:upto]
    for stage in (*FRONT, *back):
        state = stage(state, ctx)
    return state


def noise_again(state: Any, ctx: Any) -> Any:
    """One more independent release of an executed state (the add_noise stage)."""
    from enclave.gateway import BACK

    return BACK[-1](state, ctx).release
