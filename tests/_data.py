"""The test suite's one synthetic-data maker: small canonical warehouses from a seed.

The pieces compose:

- ``frames(persons, seed, population)`` draws the canonical tables (persons, claims and,
  unless the population has no events, diagnoses and prescriptions; providers) with a
  numpy Generator. Person ids are random hex tokens; nothing here is real.
- ``write(path, frames)`` stores them in a new DuckDB warehouse (all five tables exist).
- ``add_rows(path, rows, first=…)`` adds rows (one person's, or a few persons'), appended
  or stored before everyone else's.
- ``neighbour(base, out, rows)`` is a copy of a warehouse with those rows added: the
  neighbouring warehouse of the privacy tests.
- ``pair(root, tables, added)``: two homes whose warehouses differ by the added rows.
- ``in_memory(inserts)``: an in-memory warehouse with hand-written rows.
- ``ingested_home(settings, persons, seed)`` instead runs the real generator and ingest.

Each ``Population`` below is one kind of world the tests use. Draws happen in a fixed
order for a population, so one seed always gives the same rows.
"""

from __future__ import annotations

import datetime as dt
import shutil
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pandas as pd

from enclave.schema import DDL, SETTINGS, TABLES
from enclave.settings import Settings

__all__ = [
    "EVENTS",
    "RELEASE",
    "WAREHOUSE",
    "Population",
    "add_rows",
    "frames",
    "in_memory",
    "ingested_home",
    "neighbour",
    "pair",
    "persons_frame",
    "write",
]

Rng = np.random.Generator
Rows = pd.DataFrame | Sequence[tuple[Any, ...]]
START = dt.date(2023, 1, 1)
PROVIDER_TYPES = ["clinic", "medical_center", "pharmacy"]


@dataclass(frozen=True)
class Population:
    """How a synthetic population is drawn (regions, codes, per-person claims, values)."""

    regions: tuple[str, ...]
    categories: tuple[str, ...]
    icd: tuple[str | None, ...]
    claims_per_person: Callable[[Rng, int], np.ndarray]
    amount: Callable[[Rng, int], np.ndarray]
    #: Length of stay from the inpatient mask of the claims.
    los: Callable[[Rng, np.ndarray], np.ndarray]
    drugs: tuple[str, ...] = ()
    providers: int = 20
    birth: tuple[int, int] = (1935, 2020)
    setting_p: tuple[float, ...] = (0.7, 0.05, 0.05, 0.2)
    claim_id: str = "c{:07x}"
    #: Diagnoses (one a claim) and prescriptions (pharmacy claims and heavy persons').
    events: bool = True
    #: Draw the setting before the other claim columns (else after the visit date).
    setting_first: bool = True
    #: A share of NULL regions; the regions are then drawn first. None: no NULLs.
    null_regions: float | None = None
    #: The first ``heavy`` persons have ``heavy_rows`` claims each.
    heavy: int = 0
    heavy_rows: int = 0


def _inpatient_only(high: int) -> Callable[[Rng, np.ndarray], np.ndarray]:
    return lambda rng, inpatient: np.where(inpatient, rng.integers(1, high, len(inpatient)), 0)


#: The back-half world (``tests/_warehouse.build``): one person with 500 claims, a rare
#: region ("Penghu"), an absent category ("other"), NULL diagnosis codes, no events.
WAREHOUSE = Population(
    regions=("Taipei", "New Taipei", "Taichung", "Tainan", "Kaohsiung", "Penghu"),
    categories=("employee", "self_employed", "farmer", "low_income", "dependent"),
    icd=("J10.1", "J11.0", "E11.9", "I10", "K21.0", "M54.5", "Z00.0", "C50.9", None),
    claims_per_person=lambda rng, n: rng.negative_binomial(2, 0.2, n) + 1,
    amount=lambda rng, n: np.round(rng.lognormal(6, 1.2, n), 2),
    los=lambda rng, inpatient: rng.integers(0, 90, len(inpatient)),
    birth=(1930, 2020),
    claim_id="c{:08x}",
    events=False,
    setting_first=False,
    heavy=1,
    heavy_rows=500,
)

#: The neighbours' base world: every table, every value well inside the policy bounds.
EVENTS = Population(
    regions=("Taipei", "New Taipei", "Taichung", "Tainan", "Kaohsiung", "Hualien"),
    categories=WAREHOUSE.categories,
    icd=("J10.1", "J11.0", "E11.9", "I10", "K21.0", "M54.5", "Z00.0", "C50.9"),
    claims_per_person=lambda rng, n: np.minimum(rng.negative_binomial(2, 0.3, n) + 1, 12),
    amount=lambda rng, n: np.minimum(np.round(rng.lognormal(6, 1.0, n), 2), 20_000.0),
    los=_inpatient_only(30),
    drugs=("A10BA02", "C09AA05", "N02BE01", "J01CA04"),
)

#: Worlds with hand-checkable answers (``tests/_release_worlds``): at most 6 claims a
#: person, about a third with none.
RELEASE = Population(
    regions=("Taipei", "Taichung", "Tainan", "Kaohsiung"),
    categories=WAREHOUSE.categories,
    icd=("J10.1", "J11.0", "E11.9", "I10", "K21.0"),
    claims_per_person=lambda rng, n: np.where(rng.random(n) < 0.35, 0, rng.integers(1, 7, n)),
    amount=lambda rng, n: np.round(rng.uniform(10, 3000, n), 2),
    los=_inpatient_only(12),
    drugs=("A10BA02", "C09AA05", "N02BE01"),
    providers=10,
    setting_p=(0.5, 0.2, 0.1, 0.2),
    null_regions=0.0,
)


def _ids(rng: Rng, n: int) -> np.ndarray:
    return np.array([rng.bytes(8).hex() for _ in range(n)])


def persons_frame(rng: Rng, pid: np.ndarray, pop: Population) -> pd.DataFrame:
    """The persons table for the ids ``pid``, drawn from ``rng``."""
    n = len(pid)
    region = None
    if pop.null_regions is not None:
        region = rng.choice(np.array(pop.regions, dtype=object), n)
        region[rng.random(n) < pop.null_regions] = None
    birth, sex = rng.integers(*pop.birth, n), rng.choice(["F", "M"], n)
    if region is None:
        region = rng.choice(pop.regions, n)
    category = rng.choice(pop.categories, n)
    return _frame("persons", [pid, birth, sex, region, category])


def _claims(rng: Rng, pid: np.ndarray, pop: Population) -> pd.DataFrame:
    n_claims = pop.claims_per_person(rng, len(pid))
    n_claims[: pop.heavy] = pop.heavy_rows
    owner = np.repeat(pid, n_claims)
    n = len(owner)
    providers = [f"p{i}" for i in range(pop.providers)]
    setting = rng.choice(SETTINGS, n, p=pop.setting_p) if pop.setting_first else None
    provider = rng.choice(providers, n)
    visit = [START + dt.timedelta(days=int(d)) for d in rng.integers(0, 730, n)]
    if setting is None:
        setting = rng.choice(SETTINGS, n, p=pop.setting_p)
    icd = rng.choice(np.array(pop.icd, dtype=object), n)
    amount = pop.amount(rng, n)
    los = pop.los(rng, setting == "inpatient")
    claim_id = np.array([pop.claim_id.format(i) for i in range(n)])
    return _frame("claims", [claim_id, owner, provider, visit, setting, icd, amount, los])


def _events(rng: Rng, claims: pd.DataFrame, heavy: np.ndarray, pop: Population) -> dict:
    cid, owner = claims["claim_id"].to_numpy(), claims["person_id"].to_numpy()
    diagnoses = _frame("diagnoses", [cid, owner, "ICD-10", claims["icd10"], 1])
    rx = (claims["setting"].to_numpy() == "pharmacy") | np.isin(owner, heavy)
    k = int(rx.sum())
    drug, days = rng.choice(pop.drugs, k), rng.integers(1, 90, k)
    amount = np.round(rng.uniform(10, 3000, k), 2)
    prescriptions = _frame("prescriptions", [cid[rx], owner[rx], "ATC", drug, days, amount])
    return {"diagnoses": diagnoses, "prescriptions": prescriptions}


def _frame(table: str, columns: Sequence[Any]) -> pd.DataFrame:
    names = [c for c, _ in TABLES[table]]
    return pd.DataFrame(dict(zip(names, columns, strict=True)))


def frames(persons: int, seed: int, pop: Population) -> dict[str, pd.DataFrame]:
    """The population's canonical tables for ``persons`` persons drawn from ``seed``."""
    rng = np.random.default_rng(seed)
    pid = _ids(rng, persons)
    out = {"persons": persons_frame(rng, pid, pop), "claims": _claims(rng, pid, pop)}
    if pop.events:
        out.update(_events(rng, out["claims"], pid[: pop.heavy], pop))
    k = pop.providers
    out["providers"] = _frame(
        "providers",
        [[f"p{i}" for i in range(k)], rng.choice(PROVIDER_TYPES, k), rng.choice(pop.regions, k)],
    )
    return out


def write(path: Path, tables: Mapping[str, pd.DataFrame], shuffle_seed: int | None = None) -> Path:
    """A new warehouse at ``path`` with the canonical schema and these rows
    (``shuffle_seed``: the same rows stored in another order)."""
    con = duckdb.connect(str(path))
    try:
        for ddl in DDL:
            con.execute(ddl)
        for name, df in tables.items():
            if shuffle_seed is not None:
                df = df.sample(frac=1.0, random_state=shuffle_seed).reset_index(drop=True)
            _insert(con, name, df)
    finally:
        con.close()
    return path


def in_memory(statements: Sequence[str] = ()) -> duckdb.DuckDBPyConnection:
    """An in-memory warehouse: the canonical schema, then these INSERT statements."""
    con = duckdb.connect()
    for sql in (*DDL, *statements):
        con.execute(sql)
    return con


def _insert(con: duckdb.DuckDBPyConnection, table: str, rows: Rows) -> None:
    if not isinstance(rows, pd.DataFrame):
        rows = pd.DataFrame.from_records(rows, columns=[c for c, _ in TABLES[table]])
    con.register("df", rows)
    try:
        con.execute(f"INSERT INTO {table} SELECT * FROM df")
    finally:
        con.unregister("df")


def add_rows(path: Path, rows: Mapping[str, Rows], first: bool = False) -> Path:
    """Append rows (a data frame or records in schema column order, per table) — or, with
    ``first``, store them before everyone else's (the engine then meets them first)."""
    con = duckdb.connect(str(path))
    try:
        for table, records in rows.items():
            if not len(records):
                continue
            if first:
                con.execute(f"CREATE TEMP TABLE __old AS SELECT * FROM {table}")
                con.execute(f"DELETE FROM {table}")
            _insert(con, table, records)
            if first:
                con.execute(f"INSERT INTO {table} SELECT * FROM __old")
                con.execute("DROP TABLE __old")
    finally:
        con.close()
    return path


def neighbour(base: Path, out: Path, rows: Mapping[str, Rows], first: bool = False) -> Path:
    """A copy of the warehouse ``base`` at ``out`` with ``rows`` added."""
    shutil.copyfile(base, out)
    return add_rows(out, rows, first=first)


def pair(
    root: Path, tables: Mapping[str, pd.DataFrame], added: Mapping[str, Rows],
    first: bool = False, **settings: Any,
) -> tuple[Settings, Settings]:  # fmt: skip
    """Homes ``root/without`` and ``root/with`` (``Settings`` with ``settings``) whose
    warehouses differ by the ``added`` rows: ``tables`` in the one, plus ``added``."""
    homes = (Settings(home=root / "without", **settings), Settings(home=root / "with", **settings))
    for home in homes:
        home.ensure_home()
    write(homes[0].warehouse_path, tables)
    neighbour(homes[0].warehouse_path, homes[1].warehouse_path, added, first=first)
    return homes


def ingested_home(settings: Settings, persons: int, seed: int, extract: Path | None = None) -> Any:
    """``settings``' home with a generated extract of ``persons`` ingested (the real
    pseudonymiser); returns the ingest manifest. The extract (by default under the home)
    is removed afterwards."""
    from pseudonymize.ingest import ingest
    from pseudonymize.synth import generate

    extract = extract or settings.home / "extract"
    settings.ensure_home()
    generate(extract, persons=persons, seed=seed)
    manifest = ingest(extract, "nhi", settings)
    shutil.rmtree(extract)
    return manifest
