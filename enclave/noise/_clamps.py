"""Choosing a value clamp by its expected error (a ``clamp = "auto"`` column).

The candidates ``u_0 < … < u_{J-1}`` are a data-independent grid (``gateway.plan.clamps``).
One DP measurement is made (``measure_values``): the kept rows in each candidate's bin —
bin ``i`` holds the rows whose value lies in ``[u_i, u_{i+1})`` (the first bin from −∞,
the last to +∞) — with OpenDP's discrete Laplace at L1 sensitivity ``c``: a person keeps
at most ``c`` rows, each in exactly one bin. (The bounded SQL counts a (person, group)'s
rows in a bin by the share rule of its sums, in 1/K rows: ``unit``, sensitivity ``c·K``.)
Everything after it is post-processing of that noisy histogram (``pick_clamp``), as for
the rows bound (``_bounds``):

* which bins are real (``_histogram.counted``: the mode, the bins below it, a contiguous
  tail above it and a lone far bin when clearly there);
* what clamp ``u_k`` takes off the sum, ``B(u_k) = Σ_{i ≥ k} rows_i · (m_i − u_k)``, with
  every row of a real bin at the bin's midpoint ``m_i`` (the last bin at ``u_{J-1}``: the
  values are clamped there already);
* the expected squared error ``B(u)² + noise(u)²`` (the caller's noise in value units at
  clamp ``u``), least wins: the bias-variance trade-off of Amin et al. 2019;
* fallback, when no bin is seen (a population too small for the histogram to show): the
  top of the bin with the largest noisy count.

>>> [round(b) for b in clamp_bias((10.0, 100.0, 1000.0), [0.0, 50.0, 5.0])]
[31950, 27000, 0]
>>> [round(e, 6) for e in clamp_errors((10.0, 100.0, 1000.0), [0.0, 50.0, 5.0], [1.0, 10.0, 100.0])]
[1020.802501, 729.0001, 0.01]
"""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from enclave.errors import InternalError
from enclave.noise._histogram import counted
from enclave.noise._mechanisms import Record, laplace_int

__all__ = [
    "ClampChoice",
    "ValueHistogram",
    "clamp_bias",
    "clamp_errors",
    "measure_values",
    "pick_clamp",
]


def _mids(candidates: Sequence[float]) -> list[float]:
    tops = [*candidates[1:], candidates[-1]]
    return [(lo + hi) / 2 for lo, hi in zip(candidates, tops, strict=True)]


def clamp_bias(candidates: Sequence[float], rows: Sequence[float]) -> list[float]:
    """``B(u_k)`` for every candidate (ascending): the value the clamp is estimated to take
    off. Every bin from ``k`` on has its mid at or above ``u_k``, so ``B(u_k)`` is
    ``Σ_{j≥k} r_j·m_j − u_k·Σ_{j≥k} r_j``: two running sums, from the top bin down."""
    if any(b < a for a, b in itertools.pairwise(candidates)):
        raise InternalError("clamp candidates must be ascending")
    mids = _mids(candidates)
    out = [0.0] * len(candidates)
    weighted = total = 0.0
    for k in range(len(candidates) - 1, -1, -1):
        weighted += rows[k] * mids[k]
        total += rows[k]
        out[k] = max(0.0, weighted - candidates[k] * total)
    return out


def clamp_errors(
    candidates: Sequence[float], rows: Sequence[float], noise: Sequence[float]
) -> list[float]:
    """Estimated ``B(u)² + noise(u)²`` per candidate, in units of the largest candidate
    (so that neither tiny nor huge values underflow or overflow the squares)."""
    top = max(abs(c) for c in candidates) or 1.0
    bias = clamp_bias(candidates, rows)
    return [(b / top) ** 2 + (sd / top) ** 2 for b, sd in zip(bias, noise, strict=True)]


@dataclass(frozen=True)
class ClampChoice:
    """The clamp chosen and the DP histogram it was chosen from (all safe to release)."""

    clamp: float
    candidates: tuple[float, ...]
    noisy_rows: tuple[int, ...]  # per bin, OpenDP discrete Laplace
    scale: float
    estimated_bias: float  # what the clamp takes off the sum, from the noisy histogram
    fallback: bool  # no bin reached the threshold: the population is too small to see


@dataclass(frozen=True)
class ValueHistogram:
    """The DP histogram of kept rows per value bin, and the bins taken as real."""

    candidates: tuple[float, ...]
    noisy: tuple[int, ...]
    scale: float
    kept: tuple[float, ...] | None  # in rows; None: no bin seen (too small to show)
    unit: int = 1  # the noisy counts are in 1/unit rows

    @property
    def rows(self) -> float:
        """The rows the real bins hold (0 when nothing is seen)."""
        return float(sum(self.kept or ()))

    def at_most(self, top: float) -> ValueHistogram:
        """The histogram knowing that no value exceeds ``top``: the bins wholly above it
        hold nothing (whatever their noise). Post-processing with a public bound.

        >>> h = ValueHistogram((1.0, 10.0, 100.0), (50, 20, 9), 1.0, (50.0, 20.0, 9.0))
        >>> h.at_most(32.0).kept
        (50.0, 20.0, 0.0)
        """
        if self.kept is None:
            return self
        kept = tuple(
            0.0 if lo > top else k for lo, k in zip(self.candidates, self.kept, strict=True)
        )
        return dataclasses.replace(self, kept=kept)

    def mean(self, clamp: float) -> float:
        """The mean value of a row clamped at ``clamp`` (0 when nothing is seen)."""
        if not self.rows:
            return 0.0
        mids = _mids(self.candidates)
        kept = self.kept or ()
        return sum(k * min(m, clamp) for k, m in zip(kept, mids, strict=True)) / self.rows


def measure_values(
    rows: Sequence[int],
    candidates: Sequence[float],
    *,
    sensitivity: int,
    epsilon: float,
    record: Record | None = None,
    unit: int = 1,
) -> ValueHistogram:
    """The one DP measurement of a clamp choice: OpenDP's discrete Laplace on the bins.

    ``rows`` and ``sensitivity`` in 1/``unit`` rows (the bounded SQL's shares); the real
    bins' counts (``kept``) in rows."""
    noisy, scale = laplace_int(rows, sensitivity=sensitivity, epsilon=epsilon, record=record)
    kept = counted(noisy, scale)
    cands = tuple(float(c) for c in candidates)
    rows_kept = None if kept is None else tuple(k / unit for k in kept)
    return ValueHistogram(cands, tuple(noisy), scale, rows_kept, unit)


def pick_clamp(
    hist: ValueHistogram,
    noise: Callable[[float], float],
    factor: float = 1.0,
    top: float | None = None,
) -> ClampChoice:
    """The candidate of least ``(factor · B(u))² + noise(u)²`` (post-processing only);
    ``factor`` scales the histogram's rows to the rows the release keeps; ``top``: no value
    exceeds it (a public bound), so no candidate above the first that reaches it is taken.

    >>> h = ValueHistogram((1.0, 10.0, 100.0, 1e3), (0, 500, 0, 30), 1.0, (0.0, 500.0, 0.0, 30.0))
    >>> pick_clamp(h, lambda u: 0.0).clamp, pick_clamp(h, lambda u: 0.0, top=50.0).clamp
    (1000.0, 100.0)
    """
    cands = hist.candidates
    last = len(cands) - 1
    if top is not None:
        hist = hist.at_most(top)
        last = next((i for i, u in enumerate(cands) if u >= top), last)
    if hist.kept is None:
        mode = max(range(len(cands)), key=lambda i: hist.noisy[i])
        best = min(mode + 1, last)
        return ClampChoice(cands[best], cands, hist.noisy, hist.scale, 0.0, True)
    rows = [k * factor for k in hist.kept]
    errors = clamp_errors(cands, rows, [noise(u) for u in cands])[: last + 1]
    best = errors.index(min(errors))
    bias = clamp_bias(cands, rows)[best]
    return ClampChoice(cands[best], cands, hist.noisy, hist.scale, bias, False)
