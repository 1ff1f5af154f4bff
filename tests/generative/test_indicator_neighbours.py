"""User-level continual release: one person's effect on a released year is within ``k``.

A neighbouring warehouse adds one person with qualifying claims in many weeks (several
claims in some weeks, across the year boundary too). The exact k-bounded counts of every
(week, region) cell of the year — the vector the yearly ε is calibrated to — must differ
by at most ``k`` in L1, and by exactly ``min(k, weeks the person qualifies in)``: the
first ``k`` of them, in time order. Earlier weeks never change when later weeks are read.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from tests._indicator_worlds import add_person, indicator, year_counts, year_weeks
from tests._warehouse import build

#: Claims on 30 days of 2023, 5 days apart (22 distinct weeks, some twice), plus 5 in 2024.
VISITS_2023 = [dt.date(2023, 1, 4) + dt.timedelta(days=5 * i) for i in range(30)]
VISITS_2024 = [dt.date(2024, 2, 1) + dt.timedelta(days=9 * i) for i in range(5)]


def _weeks_of(days: list[dt.date]) -> list[str]:
    return sorted({(d - dt.timedelta(days=d.weekday())).isoformat() for d in days})


@pytest.fixture(scope="module")
def worlds(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("nb")
    base = build(root / "base.duckdb", persons=800, seed=11)
    return base, add_person(base, root / "plus.duckdb", VISITS_2023 + VISITS_2024)


def _l1(a: dict, b: dict) -> int:
    return sum(abs(a.get(c, 0) - b.get(c, 0)) for c in set(a) | set(b))


@pytest.mark.parametrize("ident", ["ili", "emergency"])
@pytest.mark.parametrize("k", [1, 2, 3, 53])
def test_one_person_moves_the_year_by_at_most_k(worlds, ident: str, k: int) -> None:
    base, plus = worlds
    ind = indicator(ident, periods_per_year=k)
    for year, visits in ((2023, VISITS_2023), (2024, VISITS_2024)):
        before, after = year_counts(base, ind, year), year_counts(plus, ind, year)
        weeks = [w for w in _weeks_of(visits) if w[:4] == str(year)]
        assert len(weeks) >= 5  # the person qualifies in many weeks
        diff = _l1(before, after)
        assert diff <= k or k >= len(weeks)
        assert diff == min(k, len(weeks))
        # Exactly the cells of the person's region in their first k qualifying weeks.
        changed = sorted(c for c in set(before) | set(after) if before.get(c) != after.get(c))
        assert changed == [(w, "Taipei") for w in weeks[:k]]
        assert all(after[c] - before.get(c, 0) == 1 for c in changed)


def test_without_the_bound_the_person_moves_every_week(worlds) -> None:
    """The bound binds: unbounded (k = 53), each of the person's 22 weeks of 2023 moves."""
    base, plus = worlds
    assert len(_weeks_of(VISITS_2023)) == 22
    unbounded, shipped = indicator("ili", periods_per_year=53), indicator("ili")
    assert _l1(year_counts(base, unbounded, 2023), year_counts(plus, unbounded, 2023)) == 22
    assert _l1(year_counts(base, shipped, 2023), year_counts(plus, shipped, 2023)) == 2


def test_an_earlier_week_never_changes(worlds) -> None:
    """Read week by week (each up to its own end) or all at once: the same counts."""
    _, plus = worlds
    ind = indicator("ili")
    weeks = year_weeks(2023)[:12]
    whole = year_counts(plus, ind, 2023, weeks)
    one_by_one: dict = {}
    for week in weeks:
        one_by_one.update(year_counts(plus, ind, 2023, [week]))
    assert one_by_one == whole
    assert sum(whole.values()) > 0


def test_a_person_outside_the_condition_changes_nothing(worlds, tmp_path: Path) -> None:
    base, _ = worlds
    other = add_person(
        base, tmp_path / "o.duckdb", VISITS_2023, icd10="E11.9", setting="outpatient"
    )
    ind = indicator("ili")
    assert _l1(year_counts(base, ind, 2023), year_counts(other, ind, 2023)) == 0
