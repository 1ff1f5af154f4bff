"""The "auto" rows bound: candidates, bins, which noisy bins count, scoring, the choice."""

from __future__ import annotations

import math

import pytest

from enclave.noise import choose_rows, row_candidates
from enclave.noise._bounds import UNSEEN_NOISE, bins, expected_errors
from enclave.noise._histogram import counted, lognormal_fit, seen_threshold, threshold_for

CANDS = row_candidates(512)


def _noise(c: int) -> float:
    return 1.57 * c  # a count at ε = 0.9, one cell


def test_candidates_are_few_and_log_spaced() -> None:
    assert CANDS == (1, 2, 4, 8, 16, 32, 64, 128, 256, 512)
    assert row_candidates(1) == (1,) and row_candidates(3) == (1, 2, 3)


def test_one_person_moves_one_bin_by_one() -> None:
    """The histogram's L1 sensitivity is 1: a person added lands in exactly one bin."""
    rows, persons = [1, 2, 5, 40, 512], [30, 20, 10, 4, 1]
    base = bins(rows, persons, CANDS)
    for extra in (1, 3, 7, 8, 100, 511, 512):
        added = bins([*rows, extra], [*persons, 1], CANDS)
        assert sum(abs(a - b) for a, b in zip(added, base, strict=True)) == 1


def test_threshold_is_the_tail_of_the_discrete_laplace() -> None:
    s, t = 10.0, threshold_for(10.0, 10, 0.1)
    r = math.exp(-1 / s)
    assert 10 * r**t / (1 + r) <= 0.1 < 10 * r ** (t - 1) / (1 + r)


def test_counted_keeps_a_contiguous_tail_and_drops_a_lone_noisy_bin() -> None:
    noisy = [900, 400, 60, 12, 0, 0, 25, 0, 0, 3]
    kept = counted(noisy, 10.0)
    step = threshold_for(10.0, 1, 0.35)  # the tail is shrunk by its threshold
    assert kept == [900.0, 400.0, 60 - step, 12 - step, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0]
    # a cluster far above that is clearly there (heavy users at the cap) counts
    assert counted([*noisy[:-1], 300], 10.0)[-1] == 300.0


def test_nothing_is_counted_when_the_population_is_too_small_to_see() -> None:
    assert counted([12, 20, 5, -3, 0, 8, 0, 0, 0, 1], 10.0) is None
    assert seen_threshold(10.0, 10) > 20


def test_scoring_trades_dropped_rows_against_noise() -> None:
    """Persons with 5..7 rows: bound 4 drops 1.5 rows each; 8 drops none but doubles noise."""
    kept = [0.0, 0.0, 1000.0, 0.0]
    errs = expected_errors((1, 2, 4, 8), kept, [_noise(c) for c in (1, 2, 4, 8)])
    assert errs.index(min(errs)) == 3  # 1,500 rows dropped at 4 ≫ noise 12.6 at 8
    few = [0.0, 0.0, 2.0, 0.0]  # two such persons: 3 rows dropped < the extra noise
    errs = expected_errors((1, 2, 4, 8), few, [_noise(c) for c in (1, 2, 4, 8)])
    assert errs.index(min(errs)) == 2


def _choose(rows: list[int], persons: list[int], **kw: object) -> object:
    return choose_rows(rows, persons, cap=512, epsilon=kw.pop("epsilon", 0.1), noise=_noise, **kw)


def test_a_large_population_gets_a_bound_near_its_tail() -> None:
    # 20,000 persons: most 1..7 rows, a tail to 40 (bound 32 or 64 in hindsight)
    rows, persons = [1, 2, 3, 5, 7, 12, 20, 40], [6000, 5000, 4000, 3000, 1500, 400, 90, 10]
    chosen = sorted(_choose(rows, persons).bound for _ in range(40))
    assert 16 <= chosen[20] <= 64, chosen
    assert sum(8 <= c <= 128 for c in chosen) >= 34, chosen


def test_one_row_per_person_gets_one_or_nearly() -> None:
    chosen = sorted(_choose([1], [5000]).bound for _ in range(60))  # P(1) ≈ 0.7, P(≤ 4) ≈ 0.93
    assert sum(c == 1 for c in chosen) >= 25 and sum(c <= 4 for c in chosen) >= 48, chosen


def test_a_tiny_population_never_gets_a_bound_whose_noise_dwarfs_it() -> None:
    """A handful of persons: the histogram shows nothing (but for the rare noisy bin past
    the threshold, ``BETA_SEEN``), the fallback keeps the noise within ``UNSEEN_NOISE``
    times the count the histogram could have seen, and the choice says it fell back."""
    choices = [_choose([2, 3], [3, 2]) for _ in range(40)]
    assert sum(c.fallback for c in choices) >= 30
    for choice in choices:
        if choice.fallback:
            seen = seen_threshold(choice.scale, len(CANDS))
            assert _noise(choice.bound) <= UNSEEN_NOISE * seen


def test_the_ceiling_caps_the_choice() -> None:
    rows, persons = [1, 200], [5000, 3000]
    assert all(_choose(rows, persons, ceiling=16).bound <= 16 for _ in range(10))


def test_the_choice_records_what_opendp_says_it_spent() -> None:
    spent: list[tuple[float, float]] = []
    _choose([1, 4], [100, 100], epsilon=0.3, record=lambda e, d: spent.append((e, d)))
    assert len(spent) == 1 and spent[0][0] == pytest.approx(0.3, rel=1e-6) and spent[0][1] == 0


def test_lognormal_fit_finds_a_weak_population_and_not_noise() -> None:
    fit = lognormal_fit([3, 25, 30, 15, -4, 2, 0, -1, 0, 1], CANDS)
    assert fit is not None and max(range(10), key=lambda i: fit[i]) in (1, 2)
    assert lognormal_fit([0] * 10, CANDS) is None


def test_a_clearly_seen_bin_past_a_gap_keeps_its_tail() -> None:
    """A value histogram with a spike at zero, a gap, then real values: the clearly-seen
    bin past the gap and its contiguous tail are real, shrunk like any tail."""
    noisy = [900, 2, -4, 400, 50, 12, 1, 3]
    kept = counted(noisy, 10.0)
    step = threshold_for(10.0, 1, 0.35)
    assert kept == [900.0, 0.0, 0.0, 400.0, 50 - step, 12 - step, 0.0, 0.0]
