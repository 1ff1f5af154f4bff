"""The SQL of a standing indicator: who qualifies, and the first ``k`` weeks of each person.

Weeks start on Monday and a week belongs to the calendar year of its Monday, so every
week is in exactly one year (52 or 53 a year). For one indicator and one year the
warehouse computes, per person, the distinct weeks in which one of their claims meets
the indicator's condition, ranks them in time order (``row_number() OVER (PARTITION BY
person ORDER BY week)``: it depends only on that person's rows) and keeps ranks ``≤ k``.
Grouped by the person's key (``region``: one value per person, from ``persons``), that
gives the exact k-bounded count of every (week, key). A week's rank depends only on the
weeks before it, so reading the year up to the last week wanted gives the same counts as
reading it up to any later week: an earlier release never changes.

>>> sql = year_sql(_example(), year=2024, weeks=("2024-01-08",))
>>> "c.visit_date >= DATE '2024-01-01'" in sql, "c.visit_date < DATE '2024-01-15'" in sql
(True, True)
>>> first_monday(2023), mondays_in_year(2023), mondays_in_year(2024), year_of_week("2024-12-30")
(datetime.date(2023, 1, 2), 52, 53, 2024)
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from enclave.indicators._definitions import Indicator

__all__ = [
    "first_monday",
    "mondays_in_year",
    "year_of_week",
    "year_sql",
]


def first_monday(year: int) -> dt.date:
    """The first Monday of a calendar year: its first week."""
    jan1 = dt.date(year, 1, 1)
    return jan1 + dt.timedelta(days=(7 - jan1.weekday()) % 7)


def mondays_in_year(year: int) -> int:
    """How many weeks (Mondays) a calendar year has: 52 or 53."""
    return (first_monday(year + 1) - first_monday(year)).days // 7


def year_of_week(week: str | dt.date) -> int:
    """The year a week belongs to: its Monday's."""
    return (week if isinstance(week, dt.date) else dt.date.fromisoformat(week)).year


def year_sql(ind: Indicator, *, year: int, weeks: Sequence[str]) -> str:
    """Exact k-bounded person counts per (week, key) for ``weeks`` (all in ``year``)."""
    days = sorted(dt.date.fromisoformat(w) for w in weeks)
    if not days or any(d.year != year or d.weekday() != 0 for d in days):
        raise ValueError("weeks must be Mondays of the year")
    start, end = first_monday(year), days[-1] + dt.timedelta(days=7)
    listed = ", ".join(f"DATE '{d.isoformat()}'" for d in days)
    key = ind.key_column
    return f"""WITH q AS (
  SELECT DISTINCT c.person_id AS person_id,
         CAST(date_trunc('week', c.visit_date) AS DATE) AS week
  FROM claims AS c
  WHERE c.person_id IS NOT NULL
    AND c.visit_date >= DATE '{start.isoformat()}' AND c.visit_date < DATE '{end.isoformat()}'
    AND ({ind.qualifies})
), ranked AS (
  SELECT person_id, week,
         row_number() OVER (PARTITION BY person_id ORDER BY week) AS period_rank
  FROM q
), person_key AS (
  SELECT person_id, min({key}) AS k FROM persons GROUP BY person_id
)
SELECT CAST(r.week AS VARCHAR) AS week, pk.k AS k, COUNT(*) AS n
FROM ranked AS r JOIN person_key AS pk ON pk.person_id = r.person_id
WHERE r.period_rank <= {int(ind.periods_per_year)} AND r.week IN ({listed})
GROUP BY r.week, pk.k"""


def _example() -> Indicator:
    from enclave.indicators._definitions import Indicator

    return Indicator("x", "X", "", "c.setting = 'emergency'", 2, 1.6)
