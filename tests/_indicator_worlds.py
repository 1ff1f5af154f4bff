"""Neighbouring warehouses for the standing indicators: one person added with claims in
many weeks, and the exact k-bounded (week, region) counts of a year read through the
enclave's own SQL on the sandboxed, read-only engine."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Sequence
from pathlib import Path

from enclave.engines.duckdb import DuckDBEngine
from enclave.indicators import Indicator, first_monday, load_indicators, mondays_in_year, year_sql
from enclave.settings import REPO_POLICIES, Settings
from tests._data import neighbour

__all__ = ["ILI", "add_person", "indicator", "year_counts", "year_weeks"]

ILI = "ili"


def indicator(ident: str = ILI, **terms: object) -> Indicator:
    """A shipped indicator, with its terms (k, ε per year) changed if asked."""
    (ind,) = [i for i in load_indicators(REPO_POLICIES / "indicators.toml") if i.id == ident]
    return dataclasses.replace(ind, **terms)  # type: ignore[arg-type]


def year_weeks(year: int) -> list[str]:
    start = first_monday(year)
    return [(start + dt.timedelta(days=7 * i)).isoformat() for i in range(mondays_in_year(year))]


def add_person(
    base: Path, out: Path, visits: Sequence[dt.date], *, region: str = "Taipei",
    icd10: str = "J10.1", setting: str = "emergency", token: str = "f" * 16,
) -> Path:  # fmt: skip
    """A copy of ``base`` with one more person who has one claim on each of ``visits``."""
    claims = [
        (f"n{token[:6]}{i:06d}", token, "p0", day, setting, icd10, 100.0, 0)
        for i, day in enumerate(visits)
    ]
    rows = {"persons": [(token, 1970, "F", region, "employee")], "claims": claims}
    return neighbour(base, out, rows)


def year_counts(
    warehouse: Path, ind: Indicator, year: int, weeks: Sequence[str] | None = None
) -> dict[tuple[str, str], int]:
    """(week, region) → exact k-bounded count, as the scheduler reads it."""
    engine = DuckDBEngine(warehouse, Settings(home=warehouse.parent))
    try:
        _, rows = engine.execute(year_sql(ind, year=year, weeks=weeks or year_weeks(year)))
    finally:
        engine.close()
    return {(str(w), str(k)): int(n) for w, k, n in rows if k is not None}
