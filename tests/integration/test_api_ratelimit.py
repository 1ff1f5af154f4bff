"""The shared per-token rate counter: two counters (as two workers) over one file."""

from __future__ import annotations

from enclave.api._rate import RateCounter


def test_two_workers_share_the_count_within_one_batch(tmp_path):
    a = RateCounter(tmp_path / "r.sqlite", batch=8)
    b = RateCounter(tmp_path / "r.sqlite", batch=8)
    seen = [(a if i % 2 else b).hit("t1", now=120.0 + i * 1e-4, window_s=60) for i in range(400)]
    assert seen[0] == 1
    assert 400 - 2 * 8 <= max(seen) <= 400
    assert b.hit("t2", now=121.0, window_s=60) == 1  # another token has its own count
    assert a.hit("t1", now=180.0, window_s=60) == 1  # a new window starts from zero


def test_time_flush_makes_other_workers_hits_visible(tmp_path):
    a = RateCounter(tmp_path / "r.sqlite", batch=1000, flush_s=0.1)
    b = RateCounter(tmp_path / "r.sqlite", batch=1000, flush_s=0.1)
    for i in range(50):
        a.hit("t", now=60.0 + i * 0.01, window_s=60)
    assert b.hit("t", now=60.6, window_s=60) >= 40  # all but the last 0.1 s of hits
