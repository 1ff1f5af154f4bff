"""Neighbouring warehouses and repeated releases through the gateway's own stages.

``with_persons`` copies a warehouse and adds people with many rows and extreme values (the
neighbour: one person added; a "broken" neighbour adds more than one). ``Releases`` runs
the ``FRONT`` stages once and then the ``BACK`` stages (rewrite → execute → choose_bound →
read_histograms → add_noise) once
per draw, exactly as ``pipeline.answer`` does between reserving and committing the budget.
The engine is wrapped by ``CachedEngine``: the same generated SQL on the same read-only
warehouse returns the same exact rows, so it runs once and every draw re-does only what is
random — the "auto" bound (the noisy histogram of ``choose_bound``) and the noise (``add_noise``).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from enclave.gateway import GatewayContext, QueryRequest, Release
from enclave.gateway.pipeline import BACK, FRONT
from enclave.gateway.values import Requested
from tests._data import neighbour
from tests._warehouse import context

__all__ = [
    "CachedEngine",
    "OpenDPLedger",
    "Person",
    "Releases",
    "cell",
    "gateway_context",
    "piece_epsilon",
    "with_persons",
]

Statistic = Callable[[Release], Sequence[float]]


@dataclass(frozen=True)
class Person:
    """A person to add: ``rows`` claims, each with these (pre-clamp) values."""

    rows: int
    amount: float = 1e7
    los_days: int = 10_000
    icd10: str | None = "Z00.0"
    setting: str = "inpatient"


def with_persons(base: Path, out: Path, persons: Sequence[Person], seed: int = 0) -> Path:
    """A copy of the warehouse ``base`` with ``persons`` added (random hex ids, fixed seed)."""
    rng = np.random.default_rng(seed)
    pids = [rng.bytes(8).hex() for _ in persons]
    people = pd.DataFrame(
        {
            "person_id": pids,
            "birth_year": 1970,
            "sex": "F",
            "region": "Taipei",
            "insurance_category": "employee",
        }
    )
    owner = np.repeat(np.arange(len(persons)), [p.rows for p in persons])
    claims = pd.DataFrame(
        {
            "claim_id": [f"x{seed:04x}{i:08x}" for i in range(len(owner))],
            "person_id": [pids[i] for i in owner],
            "provider_id": "p0",
            "visit_date": dt.date(2023, 6, 1),
            "setting": [persons[i].setting for i in owner],
            "icd10": [persons[i].icd10 for i in owner],
            "amount": [persons[i].amount for i in owner],
            "los_days": [persons[i].los_days for i in owner],
        }
    )
    return neighbour(base, out, {"persons": people, "claims": claims})


class CachedEngine:
    """An engine that runs each distinct SQL text once (the warehouse is read-only)."""

    def __init__(self, engine: Any) -> None:
        self.name = getattr(engine, "name", "cached")
        self._engine = engine
        self._seen: dict[str, tuple[tuple[str, ...], list[tuple[Any, ...]]]] = {}

    def execute(
        self, sql: str, timeout_s: float | None = None
    ) -> tuple[tuple[str, ...], list[tuple[Any, ...]]]:
        if sql not in self._seen:
            self._seen[sql] = self._engine.execute(sql)
        cols, rows = self._seen[sql]
        return cols, list(rows)

    def close(self) -> None:
        self._engine.close()


def gateway_context(
    warehouse: Path, home: Path, *, max_epsilon: float = 20.0, **contribution: Any
) -> GatewayContext:
    """The example policies over ``warehouse``; the demo project's per-query cap raised."""
    ctx = context(warehouse, home, **contribution)
    demo = dataclasses.replace(
        ctx.projects["demo"], max_epsilon_per_query=max_epsilon, review_epsilon=None
    )
    return dataclasses.replace(
        ctx, engine=CachedEngine(ctx.engine), projects={**ctx.projects, "demo": demo}
    )


class Releases:
    """One query on one warehouse: ``FRONT`` once, then one ``BACK`` run per draw."""

    def __init__(self, sql: str, ctx: GatewayContext, epsilon: float) -> None:
        user = ctx.projects["demo"].members[0]
        state = Requested(request=QueryRequest(sql, "demo", user, epsilon=epsilon))
        for stage in FRONT:
            state = stage(state, ctx)
        self.state, self.ctx = state, ctx

    def one(self) -> Release:
        state = self.state
        for stage in BACK:
            state = stage(state, self.ctx)
        if state.release is None:
            raise AssertionError("the BACK stages released nothing")
        return state.release

    def draws(self, n: int, statistic: Statistic) -> np.ndarray:
        return np.array([statistic(self.one()) for _ in range(n)], dtype=float)


def _number(v: Any) -> float:
    return math.nan if v is None else float(v)


def cell(*columns: str, key: Any = None) -> Statistic:
    """The released ``columns`` of the only row, or of the row whose first key is ``key``
    (NaN when that key is not released)."""

    def pick(release: Release) -> list[float]:
        for row in release.rows:
            if key is None or row[0] == key:
                rec = dict(zip(release.columns, row, strict=True))
                return [_number(rec[c]) for c in columns]
        return [math.nan] * len(columns)

    return pick


def piece_epsilon(release: Release, *names: str) -> float:
    """The ε the release states for the first of ``names`` found among its pieces."""
    mech = release.mechanisms
    for name in names:
        entry = mech.get(name)
        if isinstance(entry, dict) and "epsilon" in entry:
            return float(entry["epsilon"])
        labelled = [m for m in mech.values() if isinstance(m, dict) and m.get("label") == name]
        if len(labelled) == 1 and "epsilon" in labelled[0]:
            return float(labelled[0]["epsilon"])
        if name in mech.get("epsilon_split", {}):
            return float(mech["epsilon_split"][name])
    raise AssertionError(f"the release states no ε for any of {names}; it has {sorted(mech)}")


class OpenDPLedger:
    """Records every OpenDP measurement the gateway runs and the d_in it checked it at.

    ``install(monkeypatch)`` wraps OpenDP's ``make_laplace``, ``make_laplace_threshold``
    and ``make_private_quantile``. ``spent()`` is (ε, δ) of what ran, from OpenDP's own
    privacy maps at the largest d_in the gateway evaluated for *that* measurement (two
    pieces may share a noise scale with different sensitivities, so d_in is kept per built
    measurement, never per parameter set): runs add up, except per-group quantile runs with
    the same parameters, which share one person's rows (parallel composition, counted once).
    """

    NAMES = ("make_laplace", "make_laplace_threshold", "make_private_quantile")

    def __init__(self) -> None:
        self.d_in: dict[str, Any] = {}
        self.ran: list[tuple[str, str, Any]] = []

    def install(self, monkeypatch: Any) -> OpenDPLedger:
        """Wrap the constructors, and forget the measurements the gateway keeps for reuse
        (built before the wrappers, they would run unrecorded)."""
        import opendp.measurements as m

        from enclave.noise import forget_built_measurements

        for name in self.NAMES:
            monkeypatch.setattr(m, name, self._wrap(name, getattr(m, name)))
        forget_built_measurements()
        return self

    def _wrap(self, name: str, make: Callable[..., Any]) -> Callable[..., Any]:
        ledger = self

        def build(*args: Any, **kwargs: Any) -> Any:
            inner = make(*args, **kwargs)
            sig = repr(
                (name, [str(a) for a in args], sorted((k, str(v)) for k, v in kwargs.items()))
            )

            class Recorded:
                d_in_max: Any = None

                def map(self, d_in: Any) -> Any:
                    old = self.d_in_max
                    self.d_in_max = d_in if old is None or d_in > old else old
                    if name == "make_private_quantile":  # per-group runs share parameters
                        seen = ledger.d_in.get(sig)
                        ledger.d_in[sig] = d_in if seen is None or d_in > seen else seen
                    return inner.map(d_in)

                def __call__(self, arg: Any) -> Any:
                    ledger.ran.append((name, sig, self))
                    return inner(arg)

                def __getattr__(self, attr: str) -> Any:
                    return getattr(inner, attr)

            return Recorded()

        return build

    def runs(self) -> list[tuple[str, str, Any]]:
        """Measurements that ran, per-group quantile runs with one parameter set once."""
        out, seen = [], set()
        for name, sig, inner in self.ran:
            if name == "make_private_quantile" and sig in seen:
                continue
            seen.add(sig)
            out.append((name, sig, inner))
        return out

    def spent(self) -> tuple[float, float]:
        eps = delta = 0.0
        for name, sig, run in self.runs():
            d_in = self.d_in.get(sig) if name == "make_private_quantile" else run.d_in_max
            if d_in is None:
                raise AssertionError("a measurement ran without its privacy map checked")
            loss = run.map(d_in)
            e, d = loss if isinstance(loss, tuple) else (loss, 0.0)
            eps, delta = eps + float(e), delta + float(d)
        return eps, delta
