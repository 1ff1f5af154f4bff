"""A small synthetic warehouse (canonical schema, numpy Generator rows) for back-half tests.

No real identifiers: person ids are random hex tokens. One person (``HEAVY``) has 500
claims so that contribution bounds are visible.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd

from enclave.schema import DDL, SETTINGS

REGIONS = ("Taipei", "New Taipei", "Taichung", "Tainan", "Kaohsiung", "Penghu")
CATEGORIES = ("employee", "self_employed", "farmer", "low_income", "dependent", "other")
ICD = ("J10.1", "J11.0", "E11.9", "I10", "K21.0", "M54.5", "Z00.0", "C50.9", None)


def build(path: Path, persons: int = 2000, seed: int = 7, heavy_rows: int = 500) -> Path:
    rng = np.random.default_rng(seed)
    pid = np.array([rng.bytes(8).hex() for _ in range(persons)])
    people = pd.DataFrame(
        {
            "person_id": pid,
            "birth_year": rng.integers(1930, 2020, persons),
            "sex": rng.choice(["F", "M"], persons),
            "region": rng.choice(REGIONS, persons),  # "Penghu" rare-ish, many regions absent
            "insurance_category": rng.choice(CATEGORIES[:5], persons),  # "other" absent
        }
    )
    n_claims = rng.negative_binomial(2, 0.2, persons) + 1
    n_claims[0] = heavy_rows
    owner = np.repeat(pid, n_claims)
    n = len(owner)
    start = dt.date(2023, 1, 1).toordinal()
    claims = pd.DataFrame(
        {
            "claim_id": [f"c{i:08x}" for i in range(n)],
            "person_id": owner,
            "provider_id": rng.choice([f"p{i}" for i in range(20)], n),
            "visit_date": [dt.date.fromordinal(start + int(d)) for d in rng.integers(0, 730, n)],
            "setting": rng.choice(SETTINGS, n, p=[0.7, 0.05, 0.05, 0.2]),
            "icd10": rng.choice(np.array(ICD, dtype=object), n),
            "amount": np.round(rng.lognormal(6, 1.2, n), 2),
            "los_days": rng.integers(0, 90, n),
        }
    )
    providers = pd.DataFrame(
        {
            "provider_id": [f"p{i}" for i in range(20)],
            "provider_type": rng.choice(["clinic", "medical_center", "pharmacy"], 20),
            "region": rng.choice(REGIONS, 20),
        }
    )
    con = duckdb.connect(str(path))
    for ddl in DDL:
        con.execute(ddl)
    for name, df in (("persons", people), ("claims", claims), ("providers", providers)):
        con.register("df", df)
        con.execute(f"INSERT INTO {name} SELECT * FROM df")
        con.unregister("df")
    con.close()
    return path


HEAVY_INDEX = 0


def context(path: Path, home: Path, **contribution):
    """A GatewayContext over the warehouse at ``path`` with the example policies."""
    import dataclasses

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


def run(state, ctx):
    """plan, then the whole back half (``pipeline.BACK``)."""
    from enclave.gateway.pipeline import BACK
    from enclave.gateway.plan.planner import plan

    for stage in (plan, *BACK):
        state = stage(state, ctx)
    return state
