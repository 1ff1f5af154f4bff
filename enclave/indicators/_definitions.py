"""Standing indicator definitions: who qualifies in a week, and the year's privacy terms.

An indicator is data in ``policies/indicators.toml``: a condition on one claim (``c`` is
the claims table) that makes its person count in a week, the person column whose value
is the group (``region``, a public key set), and the terms of its user-level continual
release: a person counts in at most ``periods_per_year`` (``k``) weeks of a calendar year,
the first ``k`` weeks in which they qualify, and the year's whole series of weekly counts
is released at ``epsilon_per_year`` (see ``enclave/indicators/_continual.py``).

>>> ind = Indicator(id="x", title="X", description="", qualifies="c.setting = 'emergency'",
...                 periods_per_year=2, epsilon_per_year=1.6)
>>> ind.scale_bound
1.25
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from enclave.errors import NotFound, PolicyError, UserError
from enclave.indicators._condition import check_condition

__all__ = [
    "Indicator",
    "definition_hash",
    "find",
    "load_indicators",
    "parse_week",
]

_IDENT = re.compile(r"^[a-z_][a-z0-9_]*$")
#: The fields that shape what a release says about a person (a change is a new mechanism).
PRIVACY_FIELDS = (
    "qualifies",
    "periods_per_year",
    "epsilon_per_year",
    "project",
    "key_column",
    "key_set",
    "period_key_set",
)


@dataclass(frozen=True)
class Indicator:
    """One standing indicator, its contribution bound over time and its yearly ε."""

    id: str
    title: str
    description: str
    qualifies: str
    periods_per_year: int
    epsilon_per_year: float
    project: str = "public-health"
    user: str = "indicators@public-health"
    key_column: str = "region"
    key_set: str = "regions"
    period_key_set: str = "weeks"

    @property
    def scale_bound(self) -> float:
        """The discrete Laplace scale ``k / ε_year`` every weekly cell gets (before OpenDP
        nudges it up for rounding)."""
        return self.periods_per_year / self.epsilon_per_year


def parse_week(text: str) -> dt.date:
    """A week given as its Monday, ``YYYY-MM-DD``.

    >>> parse_week("2024-01-01")
    datetime.date(2024, 1, 1)
    >>> parse_week("2024-01-02")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    enclave.errors.UserError: A week is given by its Monday ...; 2024-01-02 is not a Monday.
    """
    try:
        day = dt.date.fromisoformat(text)
    except ValueError:
        raise UserError("A week is given by its Monday as YYYY-MM-DD, e.g. 2024-01-01.") from None
    if day.weekday() != 0:
        raise UserError(
            f"A week is given by its Monday (YYYY-MM-DD); {day.isoformat()} is not a Monday."
        )
    return day


def definition_hash(indicator: Indicator) -> str:
    """A short hash of the fields that shape a release (condition, k, ε, account, keys);
    titles and descriptions may change without it.

    >>> a = Indicator("a", "A", "", "c.setting = 'x'", 2, 1.0)
    >>> len(definition_hash(a)), definition_hash(a) == definition_hash(Indicator(
    ...     "a", "Another title", "", "c.setting = 'x'", 2, 1.0))
    (16, True)
    """
    body = json.dumps({f: getattr(indicator, f) for f in PRIVACY_FIELDS}, sort_keys=True)
    return hashlib.sha256(body.encode()).hexdigest()[:16]


def _number(where: str, name: str, value: Any, *, low: float, high: float) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not low < value <= high:
        raise PolicyError(f"{where}.{name} must be a number in ({low:g}, {high:g}].")
    return float(value)


def _k(where: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 53:
        raise PolicyError(f"{where}.periods_per_year must be a whole number from 1 to 53.")
    return int(value)


def _indicator(ident: str, spec: dict[str, Any], defaults: dict[str, Any]) -> Indicator:
    merged = {**defaults, **spec}
    where = f"indicators.{ident}"
    if "sql" in merged or "epsilon_per_period" in merged:
        raise PolicyError(
            f"{where}: weekly SQL with ε per week is replaced by `qualifies`, "
            "`periods_per_year` and `epsilon_per_year` (see docs/dashboards.md)."
        )
    for name in ("title", "qualifies", "periods_per_year", "epsilon_per_year"):
        if name not in merged:
            raise PolicyError(f"{where} needs `{name}`; add it to policies/indicators.toml.")
    known = set(Indicator.__dataclass_fields__)
    unknown = sorted(set(merged) - known - {"id"})
    if unknown:
        raise PolicyError(f"{where} has unknown fields {unknown}; allowed: {sorted(known)}.")
    if not _IDENT.match(str(merged.get("key_column", "region"))):
        raise PolicyError(f"{where}.key_column must be a plain column name of persons.")
    merged["qualifies"] = check_condition(str(merged["qualifies"]), where=where)
    merged["periods_per_year"] = _k(where, merged["periods_per_year"])
    merged["epsilon_per_year"] = _number(
        where, "epsilon_per_year", merged["epsilon_per_year"], low=0, high=10
    )
    merged.setdefault("description", "")
    merged["id"] = ident
    return Indicator(**merged)


def load_indicators(path: Path) -> tuple[Indicator, ...]:
    """Every indicator of a TOML file (``[defaults]`` + ``[indicators.<id>]``)."""
    if not path.is_file():
        return ()
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise PolicyError(f"{path.name} is not valid TOML ({exc}); fix the file.") from None
    defaults = dict(data.get("defaults", {}))
    specs = data.get("indicators", {})
    return tuple(_indicator(k, dict(v), defaults) for k, v in sorted(specs.items()))


def find(indicators: tuple[Indicator, ...], ident: str) -> Indicator:
    """The indicator with id ``ident``; NotFound lists the ids there are."""
    for ind in indicators:
        if ind.id == ident:
            return ind
    names = ", ".join(i.id for i in indicators) or "none"
    raise NotFound(f"There is no indicator {ident!r}; known indicators: {names}.")
