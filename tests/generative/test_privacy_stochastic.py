"""Stochastic privacy test of every mechanism as deployed (issue 11, "How it is tested").

For each mechanism a query runs through the gateway's own stages (``FRONT`` once, then the
``BACK`` tuple once per draw; ``tests/_dp_gateway``) on a warehouse and on its neighbour
with one adversarial person added (many rows, values far past the clamps, so the
contribution bounds bind). The empirical privacy loss of the released statistic over
output events cut at a pilot's quantiles must have its simultaneous lower confidence
bound (Chernoff bounds per event, Bonferroni over events; ``tests/_dp_tester``) at most
the ε the release states for the piece(s) that statistic depends on. ``ALPHA`` is the
false-alarm probability of one assertion, so a run of this file fails spuriously with
probability well below 1e-4.

Power: the same estimator, on the same warehouse against a neighbour that adds ``broken``
adversaries (a change ``broken`` times the stated sensitivity — the same as dividing the
noise scale by ``broken``), must find a loss above ε. Otherwise the test could pass
vacuously. Some released statistics carry only part of their query's ε (the variance
estimate mostly sees its sum-of-squares share), so their controls use more adversaries.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from enclave.gateway import Release
from tests._dp_gateway import Person, Releases, cell, gateway_context, piece_epsilon, with_persons
from tests._dp_tester import Loss, empirical_loss, threshold_events
from tests._warehouse import build

pytestmark = pytest.mark.slow

ALPHA = 1e-6
PILOT = 400
FIXED_C = {"rows_per_person": 8, "groups_per_person": 4}
#: The adversary: 50 claims with amounts and stays far past the clamps (8 rows are kept).
HEAVY = Person(50)


def rows_bound(release: Release) -> list[float]:
    """What the "auto" bound released: the noisy persons in the top rows bin (where the
    adversary's rows land) and the bound chosen from the noisy histogram (both stated)."""
    auto = release.mechanisms["rows_bound"]
    return [float(auto["noisy_persons"][-1]), float(release.bounds["rows_per_person"])]


def value_clamp(release: Release) -> list[float]:
    """What the "auto" value clamp released: the noisy rows in the top value bin (where the
    adversary's amounts land; the rest of the data is far below) and the clamp chosen."""
    clamp = release.mechanisms["a0.clamp"]
    return [float(clamp["noisy_rows"][-1]), float(clamp["clamp"])]


def group_value_clamp(release: Release) -> list[float]:
    """What a group-clamped SUM's clamp released: the noisy (person, group)s in the bin of
    the adversary's total (its rows at the row bound; the rest of the data is far below)
    and the clamp chosen."""
    clamp = release.mechanisms["a0.clamp"]
    total = HEAVY.rows * min(HEAVY.amount, release.bounds["clamps"]["s"][1])
    at = max(i for i, c in enumerate(clamp["candidates"]) if c <= total)
    return [float(clamp["noisy_rows"][at]), float(clamp["clamp"])]


def kept_value_clamp(release: Release) -> list[float]:
    """An AVG's clamp: the noisy (person, group)s in the bin of the adversary's kept share
    (its rows at the fixed rows bound, each at the row bound) and the clamp chosen."""
    clamp = release.mechanisms["a0.clamp"]
    kept = min(HEAVY.rows, FIXED_C["rows_per_person"])
    total = kept * min(HEAVY.amount, release.bounds["clamps"]["s"][1])
    at = max(i for i, c in enumerate(clamp["candidates"]) if c <= total)
    return [float(clamp["noisy_rows"][at]), float(clamp["clamp"])]


def value_bin(release: Release) -> list[float]:
    """With an "auto" rows bound too: the value histogram read at rows bound 1 (the clamp
    chosen from it also uses the rows histogram, another piece)."""
    return [float(release.mechanisms["a0.clamp"]["noisy_rows"][-1])]


def threshold(release: Release) -> int:
    """The noisy threshold τ that private keys must pass (stated in the release)."""
    found = [
        m["threshold"]
        for m in release.mechanisms.values()
        if isinstance(m, dict) and "threshold" in m
    ]
    assert len(found) == 1, "a private-key release states exactly one threshold"
    return int(found[0])


def _auto_population(_: Release) -> list[Person]:
    """300 persons with 1..60 rows: the top rows bin (at least ``auto_max_rows`` rows) is
    empty but for the adversaries, so each of them moves its noisy count by one."""
    return [Person(1 + i % 60, icd10="Q00.1") for i in range(300)]


def _threshold_population(pilot: Release) -> list[Person]:
    """τ − 1 persons with one rare-code claim each: the key sits one adversary below τ
    (the threshold counts persons per key; the released count, rows)."""
    return [Person(1, icd10="Q99.9")] * (threshold(pilot) - 1)


@dataclass(frozen=True)
class Case:
    """One mechanism: its query, released statistic and the piece(s) whose ε bounds it."""

    id: str
    sql: str
    statistic: Callable[[Release], Sequence[float]]
    pieces: tuple[str, ...] = ()  # names of the piece in the release; () → ε charged
    epsilon: float = 1.0
    adversary: Person = HEAVY
    broken: int = 2
    draws: int = 5000
    contribution: dict[str, Any] = field(default_factory=lambda: dict(FIXED_C))
    population: Callable[[Release], list[Person]] | None = None  # added to both worlds


CASES = [
    Case("count_star", "SELECT COUNT(*) AS n FROM claims", cell("n")),
    Case("count_x", "SELECT COUNT(icd10) AS n FROM claims", cell("n")),
    # the sum mechanism at a fixed clamp; with an "auto" clamp (below) 20% of the ε goes to
    # choosing it and the released value sees the rest, so those controls need more
    # adversaries — an AVG always clamps each kept (person, group)'s share (its rows keep
    # the researcher's bound)
    Case("sum", "SELECT SUM(LEAST(amount, 20000)) AS s FROM claims", cell("s")),
    Case("avg", "SELECT AVG(LEAST(amount, 20000)) AS m FROM claims", cell("m", "m_se"), broken=4),
    Case("sum_auto_clamp", "SELECT SUM(amount) AS s FROM claims", cell("s"), broken=4),
    # an AVG's sum and count shares are split by need from the clamp's DP histogram
    Case("avg_auto_clamp", "SELECT AVG(amount) AS m FROM claims", cell("m", "m_se"), broken=4),
    Case(
        "variance",
        "SELECT VARIANCE(CASE WHEN setting = 'inpatient' THEN los_days ELSE 0 END) AS v "
        "FROM claims",
        cell("v", "v_ci_low", "v_ci_high"),
        broken=6,
        draws=3000,
    ),
    Case(
        "median",
        "SELECT MEDIAN(los_days) AS md FROM claims",
        cell("md"),
        pieces=("md",),
        broken=3,
        draws=2000,
    ),
    Case(
        "auto_rows_bound",
        "SELECT COUNT(*) AS n FROM claims WHERE icd10 = 'Q00.1'",
        rows_bound,
        pieces=("auto_rows_bound", "rows_bound"),
        epsilon=10.0,
        adversary=Person(600, icd10="Q00.1"),
        draws=3000,
        contribution={},
        population=_auto_population,
    ),
    Case(  # a row clamp (STDDEV) at a fixed rows bound: the histogram of rows' values
        "auto_value_clamp",
        "SELECT STDDEV(amount) AS s FROM claims",
        value_clamp,
        pieces=("a0.clamp",),
        epsilon=5.0,
        draws=3000,
    ),
    Case(  # a SUM's clamp: the histogram of (person, group) totals
        "group_value_clamp",
        "SELECT SUM(amount) AS s FROM claims",
        group_value_clamp,
        pieces=("a0.clamp",),
        epsilon=5.0,
        draws=3000,
    ),
    Case(  # an AVG's clamp: the histogram of kept (person, group) shares
        "avg_group_value_clamp",
        "SELECT AVG(amount) AS s FROM claims",
        kept_value_clamp,
        pieces=("a0.clamp",),
        epsilon=5.0,
        draws=3000,
    ),
    Case(
        "auto_rows_value_clamp",
        "SELECT STDDEV(amount) AS s FROM claims",
        value_bin,
        pieces=("a0.clamp",),
        epsilon=5.0,
        draws=3000,
        contribution={},
    ),
    Case(  # an "auto" rows bound, then the aggregates' ε split by need from its histogram
        # (the AVG's share outweighs the count's, so n carries a small part of ε: the
        # control needs 8 adversaries to show the loss of a neighbour past the bound)
        "need_split",
        "SELECT COUNT(*) AS n, AVG(los_days) AS m FROM claims",
        cell("n", "m"),
        broken=8,
        draws=3000,
        contribution={},
    ),
    Case(
        "private_key_threshold",
        "SELECT icd10, COUNT(*) AS n FROM claims WHERE icd10 = 'Q99.9' GROUP BY icd10",
        cell("n", key="Q99.9"),
        adversary=Person(50, icd10="Q99.9"),
        broken=4,
        draws=3000,
        population=_threshold_population,
    ),
]


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build(tmp_path_factory.mktemp("dp") / "base.duckdb", persons=400, seed=7)


@dataclass(frozen=True)
class Outcome:
    epsilon: float
    delta: float
    neighbour: Loss
    broken: Loss


def _measure(case: Case, base: Path, tmp: Path) -> Outcome:
    home = tmp
    pilot_rel = Releases(case.sql, gateway_context(base, home, **case.contribution), case.epsilon)
    first = pilot_rel.one()
    common = case.population(first) if case.population else []
    world = with_persons(base, tmp / "d.duckdb", common, seed=1) if common else base
    worlds = [world] + [
        with_persons(world, tmp / f"d{k}.duckdb", [case.adversary] * k, seed=2 + k)
        for k in (1, case.broken)
    ]
    runs = [
        Releases(case.sql, gateway_context(w, home, **case.contribution), case.epsilon)
        for w in worlds
    ]
    release = runs[0].one()
    eps = piece_epsilon(release, *case.pieces) if case.pieces else release.epsilon_spent
    pilots = [r.draws(PILOT, case.statistic) for r in runs]
    draws = [r.draws(case.draws, case.statistic) for r in runs]
    losses = []
    for other in (1, 2):
        events = threshold_events(np.vstack([pilots[0], pilots[other]]))
        losses.append(
            empirical_loss(draws[0], draws[other], events, alpha=ALPHA, delta=release.delta_spent)
        )
    return Outcome(eps, release.delta_spent, losses[0], losses[1])


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_empirical_privacy_loss_within_epsilon(case: Case, base: Path, tmp_path: Path) -> None:
    out = _measure(case, base, tmp_path)
    print(
        f"{case.id}: ε = {out.epsilon:g}; neighbour {out.neighbour}; "
        f"{case.broken} adversaries {out.broken}"
    )
    assert out.neighbour.lower <= out.epsilon, (
        f"{case.id}: privacy loss above the stated ε = {out.epsilon:g}: {out.neighbour}"
    )
    assert out.broken.lower > out.epsilon, (
        f"{case.id}: the test cannot see a neighbour {case.broken}× past the sensitivity "
        f"(ε = {out.epsilon:g}): {out.broken}"
    )
