"""EARS C1/C2/C3 against reference numbers worked out by hand from the definitions.

Reference series (index: value)
    0..6 : 10 12 11 13  9 10 12   mean 11, deviations -1 1 0 2 -2 -1 1,
                                   squares sum 12, sample var 12/6 = 2, sd sqrt(2)
    7    : 17
    8    : 14
    9    : 20
C1(7) = (17 - 11) / sqrt(2) = 4.242641
C1(8): baseline 1..7 = 12 11 13 9 10 12 17, mean 84/7 = 12,
       deviations 0 -1 1 -3 -2 0 5, squares 0+1+1+9+4+0+25 = 40, var 40/6, sd 2.581989
       C1 = (14 - 12) / 2.581989 = 0.774597
C2(9): baseline 0..6 (lag 2), mean 11, sd sqrt(2): (20 - 11)/sqrt(2) = 6.363961
C2(7), C2(8) have no full baseline (need index >= 9) -> None, so C3(9) is None.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from enclave.indicators import c1, c2, c3, ears, level

REF = [10, 12, 11, 13, 9, 10, 12, 17, 14, 20]
TINY = 1e-12


def test_c1_matches_hand_computation():
    got = c1(REF, min_sigma=TINY)
    assert got[:7] == [None] * 7
    assert got[7] == pytest.approx(4.242641, abs=1e-6)
    assert got[8] == pytest.approx(0.774597, abs=1e-6)


def test_c2_uses_a_guard_band_of_two():
    got = c2(REF, min_sigma=TINY)
    assert got[:9] == [None] * 9
    assert got[9] == pytest.approx(6.363961, abs=1e-6)


def test_c3_sums_the_last_three_c2_less_one():
    # Flat baseline 4 4 4 ... with sd from the pattern 3 5 (alternating): values below.
    # Series: 3 5 3 5 3 5 3 5 3 | 7 8 6
    # C2(9): baseline idx 0..6 = 3 5 3 5 3 5 3: mean 27/7 = 3.857143,
    #   deviations -0.857143 x4, +1.142857 x3; squares 4*0.734694 + 3*1.306122 = 6.857143,
    #   var 1.142857, sd 1.069045; C2 = (7 - 3.857143)/1.069045 = 2.939874
    # C2(10): baseline idx 1..7 = 5 3 5 3 5 3 5: mean 29/7 = 4.142857, sd 1.069045
    #   C2 = (8 - 4.142857)/1.069045 = 3.608027
    # C2(11): baseline idx 2..8 = 3 5 3 5 3 5 3: C2 = (6 - 3.857143)/1.069045 = 2.004459
    # C3(11) = (2.939874-1) + (3.608027-1) + (2.004459-1) = 5.552360
    series = [3, 5, 3, 5, 3, 5, 3, 5, 3, 7, 8, 6]
    two = c2(series, min_sigma=TINY)
    assert two[9] == pytest.approx(2.939874, abs=1e-5)
    assert two[10] == pytest.approx(3.608027, abs=1e-5)
    assert two[11] == pytest.approx(2.004459, abs=1e-5)
    three = c3(series, min_sigma=TINY)
    assert three[:11] == [None] * 11
    assert three[11] == pytest.approx(5.552360, abs=1e-5)


def test_c3_ignores_c2_below_one():
    # Same baseline; current values equal to the baseline mean give C2 = 0 -> max(0, -1) = 0.
    series = [3, 5, 3, 5, 3, 5, 3, 5, 3, 27 / 7, 29 / 7, 27 / 7]
    assert c3(series, min_sigma=TINY)[11] == pytest.approx(0.0, abs=1e-9)


def test_noise_variance_widens_sigma():
    # Baseline var 2, release noise variance 2 -> sigma = 2, C1(7) = 6/2 = 3.
    noise = [0.0] * 7 + [2.0, 0.0, 0.0]
    assert c1(REF, noise, min_sigma=TINY)[7] == pytest.approx(3.0)


def test_min_sigma_floor():
    flat = [7, 7, 7, 7, 7, 7, 7, 9]
    assert c1(flat, min_sigma=0.5)[7] == pytest.approx(4.0)  # sd 0 -> 0.5
    assert c1(flat, min_sigma=2.0)[7] == pytest.approx(1.0)


def test_gaps_make_statistics_unknown():
    gapped = [10, 12, None, 13, 9, 10, 12, 17]
    assert c1(gapped)[7] is None
    assert ears(gapped)[7].level == "grey"


def test_levels_follow_thresholds():
    assert level(None, None, None) == "grey"
    assert level(3.0, None, None) == "red"
    assert level(None, 3.0, None) == "red"
    assert level(0.0, 0.0, 2.0) == "red"
    assert level(2.0, 0.0, 0.0) == "yellow"
    assert level(0.0, 0.0, 1.0) == "yellow"
    assert level(1.9, 1.9, 0.9) == "none"


def test_mismatched_noise_is_refused():
    with pytest.raises(ValueError):
        c1([1, 2, 3], [1.0])
    with pytest.raises(ValueError):
        c1([1, 2, 3], min_sigma=0)


def test_pure_noise_rarely_alerts():
    """Constant truth + Laplace release noise of known se: red in well under 2% of weeks."""
    rng = np.random.default_rng(20240101)  # simulated release noise, not privacy noise
    se = 3.0
    scale = se / math.sqrt(2)  # Laplace sd = scale * sqrt(2)
    reds = computed = 0
    for _ in range(300):
        values = list(40 + rng.laplace(0.0, scale, size=105))
        for r in ears(values, [se**2] * len(values)):
            if r.level != "grey":
                computed += 1
                reds += r.level == "red"
    rate = reds / computed
    assert computed > 25_000
    assert rate < 0.02


def test_an_outbreak_is_found():
    rng = np.random.default_rng(7)
    values = list(40 + rng.laplace(0.0, 2.0, size=30))
    for t in range(20, 24):
        values[t] += 40 * (t - 19)
    levels = [r.level for r in ears(values, [8.0] * 30)]
    assert "red" in levels[20:24]
