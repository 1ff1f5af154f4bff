"""Small synthetic warehouses whose exact answers a test can compute by hand.

``write_world(path, …)`` writes all five canonical tables with values well inside the
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

import duckdb
import numpy as np
import pandas as pd

from enclave.schema import DDL, SETTINGS

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

REGIONS = ("Taipei", "Taichung", "Tainan", "Kaohsiung")
CATEGORIES = ("employee", "self_employed", "farmer", "low_income", "dependent")
ICD = ("J10.1", "J11.0", "E11.9", "I10", "K21.0")
DRUGS = ("A10BA02", "C09AA05", "N02BE01")
PROVIDERS = tuple(f"p{i}" for i in range(10))
START = dt.date(2023, 1, 1)
MAX_CLAIMS = 6


def _frames(
    persons: int, seed: int, null_regions: float, heavy: int, heavy_rows: int
) -> dict[str, pd.DataFrame]:
    rng = np.random.default_rng(seed)
    pid = np.array([rng.bytes(8).hex() for _ in range(persons)])
    region = rng.choice(np.array(REGIONS, dtype=object), persons)
    region[rng.random(persons) < null_regions] = None
    people = pd.DataFrame(
        {
            "person_id": pid,
            "birth_year": rng.integers(1935, 2020, persons),
            "sex": rng.choice(["F", "M"], persons),
            "region": region,
            "insurance_category": rng.choice(CATEGORIES, persons),
        }
    )
    # About a third of the persons have no claim at all.
    n_claims = np.where(rng.random(persons) < 0.35, 0, rng.integers(1, MAX_CLAIMS + 1, persons))
    n_claims[:heavy] = heavy_rows
    owner = np.repeat(pid, n_claims)
    n = len(owner)
    claim_id = np.array([f"c{i:07x}" for i in range(n)])
    setting = rng.choice(SETTINGS, n, p=[0.5, 0.2, 0.1, 0.2])
    inpatient = setting == "inpatient"
    claims = pd.DataFrame(
        {
            "claim_id": claim_id,
            "person_id": owner,
            "provider_id": rng.choice(PROVIDERS, n),
            "visit_date": [START + dt.timedelta(days=int(d)) for d in rng.integers(0, 730, n)],
            "setting": setting,
            "icd10": rng.choice(np.array(ICD, dtype=object), n),
            "amount": np.round(rng.uniform(10, 3000, n), 2),
            "los_days": np.where(inpatient, rng.integers(1, 12, n), 0),
        }
    )
    diagnoses = pd.DataFrame(
        {
            "claim_id": claim_id,
            "person_id": owner,
            "code_system": "ICD-10",
            "code": claims["icd10"],
            "position": 1,
        }
    )
    rx = (setting == "pharmacy") | (np.isin(owner, pid[:heavy]))
    prescriptions = pd.DataFrame(
        {
            "claim_id": claim_id[rx],
            "person_id": owner[rx],
            "code_system": "ATC",
            "drug_code": rng.choice(DRUGS, int(rx.sum())),
            "days_supply": rng.integers(1, 90, int(rx.sum())),
            "amount": np.round(rng.uniform(10, 3000, int(rx.sum())), 2),
        }
    )
    providers = pd.DataFrame(
        {
            "provider_id": list(PROVIDERS),
            "provider_type": rng.choice(["clinic", "medical_center", "pharmacy"], len(PROVIDERS)),
            "region": rng.choice(REGIONS, len(PROVIDERS)),
        }
    )
    return {
        "persons": people,
        "claims": claims,
        "diagnoses": diagnoses,
        "prescriptions": prescriptions,
        "providers": providers,
    }


def write_world(
    path: Path,
    *,
    persons: int = 600,
    seed: int = 5,
    null_regions: float = 0.0,
    heavy: int = 0,
    heavy_rows: int = 0,
    shuffle_seed: int | None = None,
) -> Path:
    """Write the warehouse; ``shuffle_seed`` stores the same rows in another order."""
    frames = _frames(persons, seed, null_regions, heavy, heavy_rows)
    con = duckdb.connect(str(path))
    try:
        for ddl in DDL:
            con.execute(ddl)
        for name, df in frames.items():
            if shuffle_seed is not None:
                df = df.sample(frac=1.0, random_state=shuffle_seed).reset_index(drop=True)
            con.register("df", df)
            con.execute(f"INSERT INTO {name} SELECT * FROM df")
            con.unregister("df")
    finally:
        con.close()
    return path


def write_keys_world(path: Path, *, top: int = 36, copies: int = 5, seed: int = 9) -> Path:
    """One claim per person; for each ``j = 1 … top``, ``copies`` private codes
    ``Qjj.k`` are held by exactly ``j`` persons each, so every person count near a
    threshold has several keys."""
    rng = np.random.default_rng(seed)
    codes = [f"Q{j:02d}.{k}" for j in range(1, top + 1) for k in range(copies) for _ in range(j)]
    n = len(codes)
    pid = [rng.bytes(8).hex() for _ in range(n)]
    frames = {
        "persons": pd.DataFrame(
            {
                "person_id": pid,
                "birth_year": rng.integers(1935, 2020, n),
                "sex": rng.choice(["F", "M"], n),
                "region": rng.choice(REGIONS, n),
                "insurance_category": rng.choice(CATEGORIES, n),
            }
        ),
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
    con = duckdb.connect(str(path))
    try:
        for ddl in DDL:
            con.execute(ddl)
        for name, df in frames.items():
            con.register("df", df)
            con.execute(f"INSERT INTO {name} SELECT * FROM df")
            con.unregister("df")
    finally:
        con.close()
    return path


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
