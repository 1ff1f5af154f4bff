"""Neighbouring warehouses: two warehouses that differ by exactly one person.

``build_pair(root)`` writes a small base warehouse (``tests._data.EVENTS``: all five
canonical tables, values well inside the policy bounds) and a copy of it with one more
person, ``ADVERSARY``: all of that person's rows in every protected table and nothing else
(the public ``providers`` table is the same in both). The added person is built to trip value-dependent failures:
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
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from enclave.settings import Settings
from tests._data import EVENTS, START, frames, pair

__all__ = [
    "ADVERSARY",
    "Pair",
    "build_pair",
    "open_pair",
    "outcome",
    "pair_fixture",
]

#: The base population is ``tests._data.EVENTS``; the adversary's region, category, codes
#: and provider "p999" are outside it.
PROVIDERS = tuple(f"p{i}" for i in range(EVENTS.providers))
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


def _rows(person: Person) -> dict[str, list[tuple[Any, ...]]]:
    return {
        "persons": [person.person],
        "claims": person.claims,
        "diagnoses": person.diagnoses,
        "prescriptions": person.prescriptions,
    }


def build_pair(
    root: Path,
    persons: int = 300,
    seed: int = 23,
    added: Person = ADVERSARY,
    timeout_s: float = TIMEOUT_S,
    first: bool = False,
) -> tuple[Settings, Settings]:
    """Homes ``root/without`` and ``root/with`` whose warehouses differ by one person."""
    base = frames(persons, seed, EVENTS)
    return pair(root, base, _rows(added), first=first, query_timeout_s=timeout_s)


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


def pair_fixture(folder: str, *, name: str = "pair", first: bool = False) -> Any:
    """A module-scoped fixture ``name``: the pair built under a fresh temporary ``folder``
    (``first``: the added person's rows stored before everyone else's) and opened."""

    @pytest.fixture(scope="module", name=name)
    def opened_pair(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pair]:
        with open_pair(build_pair(tmp_path_factory.mktemp(folder), first=first)) as opened:
            yield opened

    return opened_pair


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
