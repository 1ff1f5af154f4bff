"""User-level continual release of a weekly indicator: one yearly ε for the whole series.

**Claim.** Fix an indicator with contribution bound ``k`` and yearly budget ``ε``. Let
``x`` be the vector of a calendar year's exact k-bounded counts, one cell per (week, key):
a person adds 1 to the cell (w, their key) for each of the first ``k`` weeks of the year
in which they qualify, and nothing else. Adding or removing one person changes at most
``k`` cells, each by 1 (one key per person: it comes from their single ``persons`` row),
so ``‖x − x'‖₁ ≤ k``. Every weekly cell gets independent discrete Laplace noise of scale
``b ≥ k/ε`` (OpenDP's ``make_laplace`` on 64-bit integers, through
``enclave.noise.laplace_int``). The year's releases together are that mechanism on all of
``x`` (noise independent per cell), whose privacy loss is ``‖x − x'‖₁ / b ≤ ε``; releasing
it week by week only reveals prefixes of it (post-processing), so the year's whole series
is ε-DP for one person, however many weeks are published. Years are composed: a person's
lifetime loss is the sum of the years' ε.

OpenDP's privacy map of each weekly measurement, at the year's ``d_in = k``, is recorded
and checked against the year's charge before a value is returned.

The week's rank needs the person's rows up to that week only, and the warehouse only
grows (claims are loaded, not rewritten): a week counted at its release keeps its rows
later, so a person is counted in at most ``k`` released weeks even when claims arrive
late (a late claim can only lower the later ranks).

>>> rows, acc = noisy_week({"A": 3}, ("A", "B"), k=2, epsilon_year=1.6, year=2024,
...                         period="2024-01-08")
>>> [r[0] for r in rows], acc.scale, acc.period_of_year, acc.periods_remaining
(['A', 'B'], 1.25, 2, 51)
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from enclave.errors import InternalError
from enclave.indicators._sql import first_monday, mondays_in_year
from enclave.noise import discrete_laplace_std, half_width, laplace_int

__all__ = ["COLUMNS", "COMPOSITION", "YearAccounting", "noisy_week", "week_estimates"]

#: The columns of every indicator release (as the gateway names a count's estimate).
COLUMNS = ("region", "value", "value_se", "value_ci_low", "value_ci_high")
COMPOSITION = (
    "user-level continual release: a person counts in at most k weeks of a calendar year "
    "(the first k in which they qualify), so the year's vector of weekly counts has L1 "
    "sensitivity k; discrete Laplace of scale k/ε per weekly cell makes the whole year's "
    "series ε-DP; years add up (basic composition)"
)


@dataclass(frozen=True)
class YearAccounting:
    """What one weekly release states about its year's privacy terms."""

    year: int
    periods_per_year: int
    epsilon_per_year: float
    periods_in_year: int
    period_of_year: int
    scale: float
    mechanism: str = "discrete Laplace (OpenDP make_laplace, 64-bit integers)"
    unit: str = "person"
    composition: str = COMPOSITION

    @property
    def periods_remaining(self) -> int:
        """Weeks of the year after this one that the year's ε still covers."""
        return self.periods_in_year - self.period_of_year

    def to_json(self) -> dict[str, Any]:
        out = asdict(self)
        out["sensitivity"] = self.periods_per_year
        out["periods_remaining"] = self.periods_remaining
        return out


def week_estimates(noisy: int, scale: float) -> tuple[int, float, float, float]:
    """Estimate, SE and 95% interval of one noisy count (as the gateway releases counts:
    clipped at 0, the interval from OpenDP's accuracy at α = 0.05).

    >>> week_estimates(-2, 1.25)[0], round(week_estimates(5, 1.25)[1], 3)
    (0, 1.721)
    """
    half = half_width(scale, discrete=True)
    return (
        max(0, noisy),
        discrete_laplace_std(scale),
        max(0.0, noisy - half),
        max(0.0, noisy + half),
    )


def noisy_week(
    counts: Mapping[str, int],
    keys: Sequence[str],
    *,
    k: int,
    epsilon_year: float,
    year: int,
    period: str,
) -> tuple[list[list[Any]], YearAccounting]:
    """One week's released rows (every public key, in order) and its year's accounting.

    ``counts`` are the exact k-bounded counts of that week (keys absent count 0; keys
    outside ``keys`` are never released).
    """
    seen: list[float] = []
    values = [int(counts.get(key, 0)) for key in keys]
    noisy, scale = laplace_int(
        values, sensitivity=k, epsilon=epsilon_year, record=lambda e, _d: seen.append(e)
    )
    if len(seen) != 1 or seen[0] > epsilon_year * (1 + 1e-9):
        raise InternalError("the weekly measurement's loss exceeds the year's ε (probably a bug)")
    day = dt.date.fromisoformat(period)
    index = (day - first_monday(year)).days // 7 + 1
    if day.year != year or not 1 <= index <= mondays_in_year(year):
        raise InternalError("a week outside its year (probably a bug)")
    rows = [[key, *week_estimates(v, scale)] for key, v in zip(keys, noisy, strict=True)]
    acc = YearAccounting(
        year=year,
        periods_per_year=k,
        epsilon_per_year=epsilon_year,
        periods_in_year=mondays_in_year(year),
        period_of_year=index,
        scale=scale,
    )
    return rows, acc
