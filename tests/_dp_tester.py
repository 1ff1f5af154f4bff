"""A stochastic privacy tester for released statistics (DP-Auditorium / Google's tester style).

Given draws of a released statistic on two neighbouring warehouses, ``empirical_loss``
estimates the privacy loss ``max_E |log P1(E) / P2(E)|`` over a family of output events
``E`` fixed in advance (threshold events on each coordinate, and pairs of them, cut at the
quantiles of a separate pilot run), and a lower confidence bound of it that holds for all
events at once with probability ≥ ``1 - alpha``:

* each event's probability gets one-sided Chernoff (binomial KL) bounds, which are never
  narrower than Clopper–Pearson's, at level ``alpha / (4 · #events)`` (Bonferroni over the
  events and the four bounds each);
* for (ε, δ)-DP the loss of an event is ``log((P1(E) - δ) / P2(E))``.

If the mechanism is ε-DP on these neighbours, ``lower > ε`` happens with probability at
most ``alpha`` — a false alarm. A mechanism whose noise is too small shows ``lower > ε``.

>>> lo, hi = binomial_bounds(50, 100, 1e-6)
>>> 0.2 < lo < 0.5 < hi < 0.8
True
>>> rng = np.random.default_rng(1)
>>> x1 = rng.laplace(0.0, 1.0, (4000, 1))
>>> x2 = rng.laplace(1.0, 1.0, (4000, 1))
>>> ev = threshold_events(np.vstack([x1[:500], x2[:500]]))
>>> loss = empirical_loss(x1, x2, ev, alpha=1e-6)
>>> 0.5 < loss.lower <= 1.0 < loss.estimate + 0.3
True
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

__all__ = [
    "Event",
    "Loss",
    "binomial_bounds",
    "empirical_loss",
    "threshold_events",
]


@dataclass(frozen=True)
class Event:
    """An output event: a name (for messages) and a vectorised test on draws (n × d)."""

    name: str
    test: Callable[[np.ndarray], np.ndarray]


@dataclass(frozen=True)
class Loss:
    """Empirical privacy loss: point estimate, simultaneous lower bound, the event."""

    estimate: float
    lower: float
    event: str
    events: int
    draws: tuple[int, int]

    def __str__(self) -> str:
        return (
            f"loss ≈ {self.estimate:.3f}, lower bound {self.lower:.3f} on {self.event!r} "
            f"({self.events} events, {self.draws[0]}+{self.draws[1]} draws)"
        )


def _kl(p: float, q: float) -> float:
    """KL divergence between Bernoulli(p) and Bernoulli(q)."""
    out = 0.0
    if p > 0:
        out += p * math.log(p / q)
    if p < 1:
        out += (1 - p) * math.log((1 - p) / (1 - q))
    return out


def binomial_bounds(k: int, n: int, a: float) -> tuple[float, float]:
    """One-sided Chernoff bounds (each wrong with probability ≤ ``a``) on p from k of n."""
    if n <= 0:
        return 0.0, 1.0
    p, budget = k / n, math.log(1.0 / a) / n

    def solve(lo: float, hi: float, upper: bool) -> float:
        for _ in range(80):  # bisection on the monotone KL(p || q)
            mid = (lo + hi) / 2
            if (_kl(p, mid) > budget) == upper:
                hi = mid
            else:
                lo = mid
        return lo if not upper else hi

    low = 0.0 if k == 0 else solve(0.0, p, upper=False)
    high = 1.0 if k == n else solve(p, 1.0, upper=True)
    return low, high


def _cuts(column: np.ndarray, levels: Sequence[float]) -> list[float]:
    finite = column[np.isfinite(column)]
    if finite.size == 0:
        return []
    return sorted({float(np.quantile(finite, q, method="lower")) for q in levels})


def threshold_events(
    pilot: np.ndarray,
    *,
    levels: Sequence[float] = (0.02, 0.05, 0.1, 0.2, 0.35, 0.5, 0.65, 0.8, 0.9, 0.95, 0.98),
    pairs: bool = True,
    min_mass: float = 0.01,
) -> list[Event]:
    """Events ``x_j ≤ t`` / ``x_j > t`` (and NaN) cut at pilot quantiles, and their pairs.

    ``pilot`` holds draws from both neighbours (never the draws tested). Events whose pilot
    mass is below ``min_mass`` are dropped (they cannot show a loss at these draw counts).
    """
    pilot = np.asarray(pilot, dtype=float).reshape(len(pilot), -1)
    single: list[list[Event]] = []
    for j in range(pilot.shape[1]):
        evs = [Event(f"x{j} is absent", lambda x, j=j: np.isnan(x[:, j]))]
        for t in _cuts(pilot[:, j], levels):
            evs.append(Event(f"x{j} <= {t:.6g}", lambda x, j=j, t=t: x[:, j] <= t))
            evs.append(Event(f"x{j} > {t:.6g}", lambda x, j=j, t=t: x[:, j] > t))
        single.append(evs)
    events = [e for evs in single for e in evs]
    if pairs:
        for a in range(len(single)):
            for b in range(a + 1, len(single)):
                for ea in single[a]:
                    for eb in single[b]:
                        events.append(
                            Event(
                                f"{ea.name} and {eb.name}",
                                lambda x, ea=ea, eb=eb: ea.test(x) & eb.test(x),
                            )
                        )
    return [e for e in events if min_mass <= float(np.mean(e.test(pilot))) <= 1 - min_mass]


def empirical_loss(
    x1: np.ndarray, x2: np.ndarray, events: Sequence[Event], *, alpha: float, delta: float = 0.0
) -> Loss:
    """Privacy loss between draws ``x1`` (warehouse 1) and ``x2`` (its neighbour)."""
    x1 = np.asarray(x1, dtype=float).reshape(len(x1), -1)
    x2 = np.asarray(x2, dtype=float).reshape(len(x2), -1)
    if not events:
        raise AssertionError("no output event has enough pilot mass; the test has no power")
    a = alpha / (4 * len(events))
    estimate, lower, where = 0.0, 0.0, "none"
    for ev in events:
        k1, k2 = int(ev.test(x1).sum()), int(ev.test(x2).sum())
        (lo1, hi1), (lo2, hi2) = binomial_bounds(k1, len(x1), a), binomial_bounds(k2, len(x2), a)
        p1, p2 = k1 / len(x1), k2 / len(x2)
        if p1 > 0 and p2 > 0:
            estimate = max(estimate, abs(math.log(p1 / p2)))
        for lo_a, hi_b in ((lo1, hi2), (lo2, hi1)):
            if lo_a > delta and math.log((lo_a - delta) / hi_b) > lower:
                lower, where = math.log((lo_a - delta) / hi_b), ev.name
    return Loss(estimate, lower, where, len(events), (len(x1), len(x2)))
