"""The "auto" value clamp: candidates, bias from a histogram, the choice, its fallback."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from enclave.gateway.plan.clamps import clamp_candidates
from enclave.noise import ValueHistogram, measure_values, pick_clamp
from enclave.noise._clamps import clamp_bias

CANDS = clamp_candidates(0.0, 5_000_000.0)


def test_candidates_are_a_data_independent_1_2_5_series_up_to_the_bound() -> None:
    assert len(CANDS) == 16 and CANDS[-1] == 5e6 and CANDS[0] == 50.0
    assert all(b > a for a, b in itertools.pairwise(CANDS))
    assert clamp_candidates(-10.0, 1000.0)[0] > 0  # a clamp above max(lower, 0)
    assert clamp_candidates(100.0, 100.0) == (100.0,)


def test_bias_falls_to_zero_at_the_top_candidate() -> None:
    rows = [0.0] * 10 + [100.0, 50.0, 10.0, 1.0, 0.0, 0.0]
    bias = clamp_bias(CANDS, rows)
    assert bias[-1] == 0 and all(b >= a for a, b in zip(bias[1:], bias, strict=False))


def test_heavy_tail_gets_a_high_clamp_light_values_a_low_one() -> None:
    """At large counts the choice follows the values: noise is small against their mass."""
    heavy = [0] * 16
    heavy[9:13] = [5000, 8000, 6000, 2000]  # values 50,000 … 1,000,000
    light = [0] * 16
    light[3:6] = [9000, 8000, 500]  # values 500 … 5,000

    def noise(u: float) -> float:
        return 4 * u  # a sum at one row per person, ε ≈ 0.36

    def median_choice(rows: list[int]) -> float:
        """The median of 7 choices: a lone noisy bin far above the values passes the
        histogram's strict threshold in about 1% of draws (``_histogram.counted``)."""
        draws = [measure_values(rows, CANDS, sensitivity=1, epsilon=0.2) for _ in range(7)]
        return sorted(pick_clamp(h, noise).clamp for h in draws)[3]

    exact = ValueHistogram(CANDS, tuple(light), 0.0, tuple(float(r) for r in light))
    assert 2_000 <= pick_clamp(exact, noise).clamp <= 10_000  # noise-free: the values alone
    high, low = median_choice(heavy), median_choice(light)
    assert 200_000 <= high <= 2_000_000 and 2_000 <= low <= 10_000


def test_more_rows_kept_raise_the_clamp() -> None:
    """``factor`` scales the histogram to the rows the release keeps: more mass past a
    clamp weighs more against the same noise."""
    hist = ValueHistogram(CANDS, (0,) * 9 + (900, 500, 100) + (0,) * 4, 5.0, None)
    kept = tuple(float(x) for x in hist.noisy)
    hist = ValueHistogram(CANDS, hist.noisy, 5.0, kept)

    def noise(u: float) -> float:
        return 2000 * u

    one = pick_clamp(hist, noise, factor=1.0).clamp
    many = pick_clamp(hist, noise, factor=30.0).clamp
    assert many > one


def test_nothing_seen_falls_back_to_the_top_of_the_largest_bin() -> None:
    hist = measure_values([0] * 16, CANDS, sensitivity=4, epsilon=0.01)
    assert hist.kept is None or sum(hist.kept) >= 0
    choice = pick_clamp(ValueHistogram(CANDS, (0,) * 5 + (3,) + (0,) * 10, 400.0, None), abs)
    assert choice.fallback and choice.clamp == CANDS[6]


def test_the_measurement_records_its_loss_at_the_sensitivity() -> None:
    seen: list[tuple[float, float]] = []
    measure_values(
        [10] * 16, CANDS, sensitivity=8, epsilon=0.25, record=lambda e, d: seen.append((e, d))
    )
    ((eps, delta),) = seen
    assert eps == pytest.approx(0.25, rel=1e-6) and delta == 0.0


@settings(max_examples=200, deadline=None)
@given(
    noisy=st.lists(st.integers(-50, 5000), min_size=len(CANDS), max_size=len(CANDS)),
    top=st.sampled_from([60.0, 1_000.0, 33_000.0, 4e6]),
    scale=st.sampled_from([2.0, 10.0, 40.0]),
)
def test_no_clamp_above_the_most_a_value_can_be(noisy: list[int], top: float, scale: float) -> None:
    """With a public ``top`` (an AVG's kept share: at most ``c·upper``) the clamp is never
    above the first candidate that reaches it, whatever noise the bins above hold."""
    from enclave.noise._histogram import counted

    hist = ValueHistogram(CANDS, tuple(noisy), scale, counted(noisy, scale))
    choice = pick_clamp(hist, lambda u: u / 100.0, top=top)
    assert choice.clamp <= min(u for u in CANDS if u >= top)


def test_a_heavy_noise_tail_past_the_top_does_not_raise_the_clamp() -> None:
    """Real values up to 1,000 and noise counts above: without ``top`` the phantom tail
    pulls the clamp up; with it the clamp stays at the values."""
    rows = [0.0] * len(CANDS)
    rows[CANDS.index(500.0)] = 5_000.0
    for u in (2_000.0, 5_000.0, 10_000.0, 20_000.0):
        rows[CANDS.index(u)] = 40.0
    hist = ValueHistogram(CANDS, tuple(int(r) for r in rows), 10.0, tuple(rows))
    noise = lambda u: u  # noqa: E731
    assert pick_clamp(hist, noise).clamp > 1_000.0
    assert pick_clamp(hist, noise, top=1_000.0).clamp == 1_000.0
