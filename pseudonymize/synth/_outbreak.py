"""Injected outbreaks: more cases of one indicator in one region for a few weeks.

An outbreak ``REGION:YYYY-MM-DD:WEEKS:FACTOR[:INDICATOR]`` multiplies the number of that
region's claims that count for the indicator (``ili``: a J09–J11 primary diagnosis, the
default; ``covid``: U07.1; ``emergency``: the emergency setting) on the ``7 × WEEKS`` days
from the date on: for the ``n`` such claims of the region's residents in the window,
``round((FACTOR − 1) × n)`` more are added, each a copy of one of them (its day, diagnosis,
setting, provider, amount) given to a resident of the region drawn at random. Diagnoses
and prescriptions are then made for them as for every claim. A Monday start lines the
outbreak up with the indicators' weeks.

>>> o = Outbreak.parse("New Taipei:2024-01-08:3:2")
>>> (o.region, o.start.isoformat(), o.weeks, o.factor, o.indicator)
('New Taipei', '2024-01-08', 3, 2.0, 'ili')
>>> Outbreak.parse("Taipei:2024-01-08:3")  # doctest: +ELLIPSIS
Traceback (most recent call last):
enclave.errors.UserError: --outbreak takes REGION:YYYY-MM-DD:WEEKS:FACTOR[:INDICATOR], e.g. ...
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, fields
from typing import Any

import numpy as np

from enclave.errors import UserError
from pseudonymize.synth import _codes, _places
from pseudonymize.synth._claims import EMERGENCY, Claims
from pseudonymize.synth._fmt import DAY0, NDAYS
from pseudonymize.synth._people import People

__all__ = ["INDICATORS", "Outbreak", "add_outbreaks"]

INDICATORS = ("ili", "covid", "emergency")
_FORM = "--outbreak takes REGION:YYYY-MM-DD:WEEKS:FACTOR[:INDICATOR]"
_FIRST = dt.date.fromisoformat(str(DAY0))  # day 0 of the claims


@dataclass(frozen=True)
class Outbreak:
    """One injected outbreak; ``added`` is set once the claims are made."""

    region: str
    start: dt.date
    weeks: int
    factor: float
    indicator: str = "ili"

    @classmethod
    def parse(cls, text: str) -> Outbreak:
        parts = text.split(":")
        if len(parts) not in (4, 5):
            raise UserError(f"{_FORM}, e.g. Taipei:2024-01-08:3:2 (got {len(parts)} fields).")
        region, day, weeks, factor = (p.strip() for p in parts[:4])
        indicator = parts[4].strip() if len(parts) == 5 else "ili"
        try:
            start = dt.date.fromisoformat(day)
            n_weeks, mult = int(weeks), float(factor)
        except ValueError:
            raise UserError(f"{_FORM}: the date is YYYY-MM-DD, WEEKS a whole number, "
                            "FACTOR a number.") from None  # fmt: skip
        out = cls(region, start, n_weeks, mult, indicator)
        out.check()
        return out

    def check(self) -> None:
        if self.region not in _places.REGIONS:
            raise UserError(f"{_FORM}: unknown region; use one of {', '.join(_places.REGIONS)}.")
        if self.indicator not in INDICATORS:
            raise UserError(f"{_FORM}: INDICATOR is one of {', '.join(INDICATORS)}.")
        if not 1 <= self.weeks <= 52:
            raise UserError(f"{_FORM}: WEEKS must be from 1 to 52.")
        if not 1.0 < self.factor <= 50.0:
            raise UserError(f"{_FORM}: FACTOR must be above 1 and at most 50.")
        first, last = self.days()
        if first < 0 or last > NDAYS:
            raise UserError(f"{_FORM}: the weeks must lie within 2023-01-01 … 2024-12-31.")

    def days(self) -> tuple[int, int]:
        """First day and one past the last, as days since 2023-01-01."""
        first = (self.start - _FIRST).days
        return first, first + 7 * self.weeks

    def to_dict(self) -> dict[str, Any]:
        return {
            "region": self.region,
            "start": self.start.isoformat(),
            "weeks": self.weeks,
            "factor": self.factor,
            "indicator": self.indicator,
        }


def _counts(claims: Claims, indicator: str) -> np.ndarray:
    """Which claims count for the indicator (bool per claim)."""
    if indicator == "emergency":
        return claims.setting == EMERGENCY
    season = _codes.SEASON[np.maximum(claims.code, 0)]
    wanted = _codes.FLU if indicator == "ili" else _codes.COVID
    return (claims.code >= 0) & (season == wanted)


def _extra(
    rng: np.random.Generator, claims: Claims, people: People, o: Outbreak
) -> tuple[np.ndarray, np.ndarray]:
    """Rows of ``claims`` to copy, and the residents who get the copies."""
    first, last = o.days()
    region = _places.REGIONS.index(o.region)
    target = _counts(claims, o.indicator) & (claims.day >= first) & (claims.day < last)
    target &= people.region[claims.person] == region
    rows = np.flatnonzero(target)
    residents = np.flatnonzero(people.region == region)
    n = round((o.factor - 1.0) * len(rows))
    if n == 0 or len(residents) == 0:
        return np.empty(0, np.int64), np.empty(0, np.int32)
    copy = rows[rng.integers(0, len(rows), n)]
    return copy, residents[rng.integers(0, len(residents), n)].astype(np.int32)


def add_outbreaks(
    rng: np.random.Generator, claims: Claims, people: People, outbreaks: Sequence[Outbreak]
) -> tuple[Claims, list[int]]:
    """The claims with every outbreak's copies added (sorted by day), and how many each
    outbreak added. Outbreaks are applied to the claims as generated, not to each other's
    copies."""
    copies, persons, added = [], [], []
    for o in outbreaks:
        rows, who = _extra(rng, claims, people, o)
        copies.append(rows)
        persons.append(who)
        added.append(len(rows))
    rows = np.concatenate([np.arange(len(claims)), *copies])
    person = np.concatenate([claims.person, *persons])
    parts = {f.name: getattr(claims, f.name)[rows] for f in fields(Claims)}
    parts["person"] = person.astype(claims.person.dtype)
    parts["chronic"] = np.concatenate([claims.chronic, np.zeros(len(rows) - len(claims), bool)])
    order = np.argsort(parts["day"], kind="stable")
    return Claims(**{k: v[order] for k, v in parts.items()}), added
