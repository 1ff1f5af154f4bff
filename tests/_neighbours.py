"""Neighbouring warehouses: two warehouses that differ by exactly one person.

``build_pair(root)`` writes a small base warehouse (all five canonical tables, values well
inside the policy bounds) and a copy of it with one more person, ``ADVERSARY``: all of
that person's rows in every protected table and nothing else (the public ``providers``
table is the same in both). The added person is built to trip value-dependent failures:
hundreds of claims, very large amounts and lengths of stay, rare and NULL diagnosis
codes, a region and an insurance category no one else has, edge dates.

``outcome(ctx, sql, …)`` runs one request through the whole gateway and reduces it to its
class — ``("released",)`` or ``("refused", error type, message)`` — which is all a
researcher can observe without reading numbers. Differential privacy allows the numbers
to differ between neighbours; it does not allow the class to.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pandas as pd

from enclave.schema import DDL, SETTINGS, TABLES
from enclave.settings import Settings

__all__ = [
    "ADVERSARY",
    "Pair",
    "build_pair",
    "open_pair",
    "outcome",
]

#: Regions and categories of the base population; the adversary's are outside these.
BASE_REGIONS = ("Taipei", "New Taipei", "Taichung", "Tainan", "Kaohsiung", "Hualien")
BASE_CATEGORIES = ("employee", "self_employed", "farmer", "low_income", "dependent")
BASE_ICD = ("J10.1", "J11.0", "E11.9", "I10", "K21.0", "M54.5", "Z00.0", "C50.9")
BASE_DRUGS = ("A10BA02", "C09AA05", "N02BE01", "J01CA04")
PROVIDERS = tuple(f"p{i}" for i in range(20))
START = dt.date(2023, 1, 1)
#: Engine limit for the neighbour warehouses: long enough for any bounded query on a few
#: hundred persons, short enough that a fan-out blow-up costs seconds, not a minute.
TIMEOUT_S = 10.0


@dataclass(frozen=True)
class Person:
    """One person's rows in every protected table (column order as in ``enclave.schema``)."""

    person: tuple[Any, ...]
    claims: list[tuple[Any, ...]]
    diagnoses: list[tuple[Any, ...]]
    prescriptions: list[tuple[Any, ...]]


def _adversary() -> Person:
    pid = "f00dfacecafe0042"
    edge_days = (
        dt.date(2023, 1, 1),
        dt.date(2024, 2, 29),
        dt.date(2024, 12, 31),
        dt.date(2023, 12, 31),
    )
    codes = ("E78.5", "E78.0", "U07.1", "Q99.9", None, "Z99.89")
    settings = ("inpatient", "emergency", "pharmacy", "outpatient")
    amounts = (2.5e6, 1.0e9, 0.0, 19_999.99, 7.5e7)
    stays = (40_000, 366, 0, 2_147_483_647, 25_000)
    claims, diagnoses, prescriptions = [], [], []
    for i in range(600):
        cid = f"x{i:07x}"
        provider = "p999" if i % 7 == 0 else PROVIDERS[i % len(PROVIDERS)]
        day = edge_days[i % 4] if i % 3 else START + dt.timedelta(days=(i * 37) % 730)
        code = codes[i % len(codes)]
        claims.append(
            (cid, pid, provider, day, settings[i % 4], code, amounts[i % 5], stays[i % 5])
        )
        for pos in range(1, 11):
            diagnoses.append((cid, pid, "ICD-10", code or "E78.5", pos))
        prescriptions.append((cid, pid, "ATC", "L01XC99", 3650, 1.0e7))
    person = (pid, 2026, "F", "Lienchiang", "other")
    return Person(person, claims, diagnoses, prescriptions)


ADVERSARY = _adversary()


def _base_frames(persons: int, seed: int) -> dict[str, pd.DataFrame]:
    rng = np.random.default_rng(seed)
    pid = np.array([rng.bytes(8).hex() for _ in range(persons)])
    people = pd.DataFrame(
        {
            "person_id": pid,
            "birth_year": rng.integers(1935, 2020, persons),
            "sex": rng.choice(["F", "M"], persons),
            "region": rng.choice(BASE_REGIONS, persons),
            "insurance_category": rng.choice(BASE_CATEGORIES, persons),
        }
    )
    n_claims = np.minimum(rng.negative_binomial(2, 0.3, persons) + 1, 12)
    owner = np.repeat(pid, n_claims)
    n = len(owner)
    claim_id = np.array([f"c{i:07x}" for i in range(n)])
    setting = rng.choice(SETTINGS, n, p=[0.7, 0.05, 0.05, 0.2])
    inpatient = setting == "inpatient"
    claims = pd.DataFrame(
        {
            "claim_id": claim_id,
            "person_id": owner,
            "provider_id": rng.choice(PROVIDERS, n),
            "visit_date": [START + dt.timedelta(days=int(d)) for d in rng.integers(0, 730, n)],
            "setting": setting,
            "icd10": rng.choice(np.array(BASE_ICD, dtype=object), n),
            "amount": np.minimum(np.round(rng.lognormal(6, 1.0, n), 2), 20_000.0),
            "los_days": np.where(inpatient, rng.integers(1, 30, n), 0),
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
    rx = setting == "pharmacy"
    prescriptions = pd.DataFrame(
        {
            "claim_id": claim_id[rx],
            "person_id": owner[rx],
            "code_system": "ATC",
            "drug_code": rng.choice(BASE_DRUGS, int(rx.sum())),
            "days_supply": rng.integers(1, 90, int(rx.sum())),
            "amount": np.round(rng.uniform(10, 3000, int(rx.sum())), 2),
        }
    )
    providers = pd.DataFrame(
        {
            "provider_id": list(PROVIDERS),
            "provider_type": rng.choice(["clinic", "medical_center", "pharmacy"], len(PROVIDERS)),
            "region": rng.choice(BASE_REGIONS, len(PROVIDERS)),
        }
    )
    return {
        "persons": people,
        "claims": claims,
        "diagnoses": diagnoses,
        "prescriptions": prescriptions,
        "providers": providers,
    }


def _write_base(path: Path, persons: int, seed: int) -> None:
    con = duckdb.connect(str(path))
    try:
        for ddl in DDL:
            con.execute(ddl)
        for name, df in _base_frames(persons, seed).items():
            con.register("df", df)
            con.execute(f"INSERT INTO {name} SELECT * FROM df")
            con.unregister("df")
    finally:
        con.close()


def _add_person(path: Path, person: Person, first: bool = False) -> None:
    """Append the person's rows — or, with ``first``, store them before everyone else's
    (the engine then meets them first: row order must not show in a release either)."""
    rows = {
        "persons": [person.person],
        "claims": person.claims,
        "diagnoses": person.diagnoses,
        "prescriptions": person.prescriptions,
    }
    con = duckdb.connect(str(path))
    try:
        for table, records in rows.items():
            columns = [c for c, _ in TABLES[table]]
            con.register("df", pd.DataFrame.from_records(records, columns=columns))
            if first:
                con.execute(f"CREATE TEMP TABLE __old AS SELECT * FROM {table}")
                con.execute(f"DELETE FROM {table}")
                con.execute(f"INSERT INTO {table} SELECT * FROM df")
                con.execute(f"INSERT INTO {table} SELECT * FROM __old")
                con.execute("DROP TABLE __old")
            else:
                con.execute(f"INSERT INTO {table} SELECT * FROM df")
            con.unregister("df")
    finally:
        con.close()


def build_pair(
    root: Path,
    persons: int = 300,
    seed: int = 23,
    added: Person = ADVERSARY,
    timeout_s: float = TIMEOUT_S,
    first: bool = False,
) -> tuple[Settings, Settings]:
    """Homes ``root/without`` and ``root/with`` whose warehouses differ by one person."""
    without = Settings(home=root / "without", query_timeout_s=timeout_s)
    with_ = Settings(home=root / "with", query_timeout_s=timeout_s)
    for s in (without, with_):
        s.ensure_home()
    _write_base(without.warehouse_path, persons, seed)
    shutil.copyfile(without.warehouse_path, with_.warehouse_path)
    _add_person(with_.warehouse_path, added, first=first)
    return without, with_


@dataclass(frozen=True)
class Pair:
    """Gateway contexts over the two neighbours, each with its own metadata store."""

    without: Any
    with_: Any

    def both(self) -> tuple[Any, Any]:
        return self.without, self.with_


def _generous(ctx: Any) -> Any:
    """Budgets large enough that no request in a test session is refused for budget
    (δ 0.5: a private-key query then spends δ = 1e-6 of it)."""
    projects = {
        name: dataclasses.replace(p, epsilon=1e9, member_epsilon=None, delta=0.5)
        for name, p in ctx.projects.items()
    }
    return dataclasses.replace(ctx, projects=projects)


@contextmanager
def open_pair(
    homes: tuple[Settings, Settings], engines: tuple[Any, Any] | None = None
) -> Iterator[Pair]:
    """Open both homes (DuckDB, or the given engines) with generous project budgets."""
    from enclave.service import open_context

    a, b = homes
    ctxs = [
        _generous(open_context(s, engines[i] if engines else None)) for i, s in enumerate((a, b))
    ]
    try:
        yield Pair(*ctxs)
    finally:
        for ctx in ctxs:
            ctx.engine.close()
            close = getattr(ctx.store, "close", None)
            if close is not None:
                close()


MEMBERS = {"demo": "researcher@demo", "pharmacy": "pharmacist@uni"}


def outcome(
    ctx: Any,
    sql: str,
    project: str = "demo",
    user: str | None = None,
    epsilon: float | None = 0.5,
    half_width: float | None = None,
) -> tuple[str, ...]:
    """The observable class of one request: released, or refused with type and message."""
    from enclave.gateway import QueryRequest, answer

    member = user or MEMBERS.get(project, "researcher@demo")
    request = QueryRequest(
        sql=sql, project=project, user=member, epsilon=epsilon, half_width=half_width
    )
    try:
        answer(request, ctx)
    except Exception as exc:  # every failure a researcher can see, bugs included
        return ("refused", type(exc).__name__, str(exc))
    return ("released",)
