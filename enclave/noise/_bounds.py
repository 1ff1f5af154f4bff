"""Choosing a rows-per-person bound by its expected error (the "auto" bound).

The candidates are few and log-spaced: 1, 2, 4, …, ``cap`` (``row_candidates``). One DP
measurement is made: the number of persons in each candidate's bin — bin ``i`` holds the
persons whose row count ``n`` lies in ``[c_i, c_{i+1})``, the last bin ``n ≥ cap`` — with
OpenDP's discrete Laplace (``make_laplace`` on a vector of integers) at L1 sensitivity 1:
one person is in exactly one bin. Everything after it is post-processing of that noisy
histogram:

* which bins are real (``_histogram.counted``: the mode, the bins below it, a contiguous
  tail above it, a lone far bin only if clearly there);
* the rows that bound ``c`` drops, ``B(c) = Σ max(0, n − c)`` over persons, are estimated
  with every person of a real bin at the bin's mean row count;
* a candidate's expected squared error is ``B(c)² + noise(c)²`` (``expected_errors``),
  where ``noise(c)`` is what the query's noise adds at ``c`` (the caller's, in rows), and
  the least wins: the bias-variance trade-off of Amin et al. 2019 ("Bounding user
  contributions"), scored on a DP estimate of the histogram instead of a fixed quantile;
* fallback, when the population is too small for any bin to show (``fallback`` in the
  choice): the bins are those of a log-normal fitted to the noisy counts
  (``_histogram.lognormal_fit``), and only bounds whose noise stays within
  ``UNSEEN_NOISE`` times the count the histogram could have seen are allowed — so a handful
  of persons never gets a bound whose noise dwarfs their rows; with no population fitted
  at all the bound is 1.

>>> row_candidates(512)
(1, 2, 4, 8, 16, 32, 64, 128, 256, 512)
>>> row_candidates(100)[-2:]
(64, 100)
>>> bins([1, 3, 7, 512], [10, 5, 2, 1], row_candidates(8))
[10, 5, 2, 1]
>>> [round(e) for e in expected_errors((1, 2, 4), [1000, 0, 0], [1.0, 2.0, 4.0])]
[1, 4, 16]
>>> expected_errors((1, 2, 4), [0, 1000, 0], [1.0, 2.0, 4.0])[0]
2250001.0
"""

from __future__ import annotations

import bisect
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from enclave.errors import InternalError
from enclave.noise._histogram import counted, lognormal_fit, seen_threshold
from enclave.noise._mechanisms import Record, laplace_int

__all__ = [
    "UNSEEN_NOISE",
    "RowsChoice",
    "bins",
    "choose_rows",
    "expected_errors",
    "row_candidates",
    "rows_kept",
]

#: In the fallback, the noise of a bound (in rows) is at most this many times the count at
#: which a bin is seen: a population the histogram misses may still be spread over more
#: than one bin (1.5 halves the error of 70–170-person populations in bench/auto_bounds.py,
#: against 1, at a cost to populations of a few persons, whose answers are noise anyway)
UNSEEN_NOISE = 1.5


def row_candidates(cap: int) -> tuple[int, ...]:
    """1, 2, 4, … below ``cap``, then ``cap`` itself."""
    if cap < 1:
        raise InternalError("the rows cap must be at least 1")
    out = [1]
    while out[-1] * 2 < cap:
        out.append(out[-1] * 2)
    if out[-1] != cap:
        out.append(cap)
    return tuple(out)


def bins(rows: Sequence[int], persons: Sequence[int], candidates: Sequence[int]) -> list[int]:
    """Persons per candidate bin from a histogram (rows per person, persons with it)."""
    out = [0] * len(candidates)
    for n, p in zip(rows, persons, strict=True):
        out[max(0, bisect.bisect_right(candidates, int(n)) - 1)] += int(p)
    return out


def _means(candidates: Sequence[int]) -> list[float]:
    """Each bin's mean row count if its persons were spread evenly over it."""
    tops = [*(c - 1 for c in candidates[1:]), candidates[-1]]
    return [(lo + hi) / 2 for lo, hi in zip(candidates, tops, strict=True)]


def _dropped(kept: Sequence[float], means: Sequence[float], c: int) -> float:
    return sum(k * max(0.0, m - c) for k, m in zip(kept, means, strict=True))


def rows_kept(candidates: Sequence[int], kept: Sequence[float], c: int) -> float:
    """The rows bound ``c`` keeps, ``Σ min(n, c)``, from the real bins' counts.

    >>> rows_kept((1, 2, 4), [10.0, 5.0, 1.0], 2)
    22.0
    """
    return sum(k * min(m, c) for k, m in zip(kept, _means(candidates), strict=True))


def expected_errors(
    candidates: Sequence[int], kept: Sequence[float], noise: Sequence[float]
) -> list[float]:
    """Estimated ``B(c)² + noise(c)²`` from the real bins' counts ``kept``, for the first
    ``len(noise)`` candidates (those allowed; every bin counts towards what they drop)."""
    means = _means(candidates)
    return [
        _dropped(kept, means, c) ** 2 + sd * sd for c, sd in zip(candidates, noise, strict=False)
    ]


@dataclass(frozen=True)
class RowsChoice:
    """The bound chosen and the DP histogram it was chosen from (all safe to release)."""

    bound: int
    candidates: tuple[int, ...]
    noisy_persons: tuple[int, ...]  # per bin, OpenDP discrete Laplace
    scale: float
    rows_dropped: float  # estimated from the noisy histogram, at ``bound``
    fallback: bool  # no bin reached the threshold: the population is too small to see
    kept: tuple[float, ...] = ()  # the bins taken as real (or fitted), post-processing


def choose_rows(
    rows: Sequence[int],
    persons: Sequence[int],
    *,
    cap: int,
    epsilon: float,
    noise: Callable[[int], float],
    ceiling: int | None = None,
    record: Record | None = None,
    extra: Callable[[int, Sequence[float]], float] | None = None,
) -> RowsChoice:
    """The rows bound (a candidate ≤ ``ceiling``) of least estimated error, with ε-DP.

    ``rows``/``persons``: the exact histogram of rows per person (capped at ``cap``);
    ``noise(c)``: the query's noise standard deviation in rows at bound ``c``;
    ``extra(c, bins)``: a further error in rows at ``c`` given the real bins' counts (an
    "auto" value clamp's, ``gateway.release.bound``), added in quadrature.
    """
    cands = row_candidates(cap)
    allowed = max(1, sum(1 for c in cands if c <= (ceiling or cap)))
    noisy, scale = laplace_int(
        bins(rows, persons, cands), sensitivity=1, epsilon=epsilon, record=record
    )
    noises = [noise(c) for c in cands[:allowed]]
    kept = counted(noisy, scale)
    fallback = kept is None
    if kept is None:
        most = UNSEEN_NOISE * seen_threshold(scale, len(cands))
        allowed = max(1, sum(1 for sd in noises if sd <= most))
        kept = lognormal_fit(noisy, cands) or [0.0] * len(cands)
    errors = expected_errors(cands, kept, noises[:allowed])
    if extra is not None:
        errors = [e + extra(c, kept) ** 2 for c, e in zip(cands, errors, strict=False)]
    best = cands[errors.index(min(errors))]
    dropped = _dropped(kept, _means(cands), best)
    return RowsChoice(best, cands, tuple(noisy), scale, dropped, fallback, tuple(kept))
