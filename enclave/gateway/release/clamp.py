"""The value clamps of a plan's ``clamp = "auto"`` aggregates, chosen with DP.

Part of stage ``choose_bound``, after the rows bound ``c`` is known: for each clamped
aggregate the bounded totals hold its value pieces at every candidate clamp and the kept
rows per value bin (``sql.stats.clamp_columns``). The bins, summed over groups, are one
histogram of L1 sensitivity ``c``; ``enclave.noise.choose_clamp`` noises it at the
aggregate's clamp share of ε (``plan.clamps``) and picks the candidate of least expected
error against the noise of the aggregate's sum at that clamp (over all public cells, as
for the rows bound). The plan then carries the aggregate at that clamp — a fixed bound
from here on, stated in the release's bounds — and the totals keep only its columns.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from typing import Any

from enclave.gateway.plan.accounting import piece_noise, pure_epsilon
from enclave.gateway.plan.clamps import at_clamp, clamp_id
from enclave.gateway.plan.keys import key_combinations
from enclave.gateway.plan.pieces import pieces
from enclave.gateway.release.losses import Losses
from enclave.gateway.sql.stats import ClampColumns, at_clamps, clamp_columns
from enclave.gateway.values import Aggregate, Plan
from enclave.noise import ClampChoice, choose_clamp
from enclave.policy import DatasetPolicy

__all__ = ["CLAMP_NOTE", "choose_clamps"]

CLAMP_NOTE = "value clamp of {alias} chosen privately by least expected error (auto): {clamp:g}"


def _noise(plan: Plan, agg: Aggregate, cells: int) -> Callable[[float], float]:
    """The noise of the aggregate's sum at clamp ``u``, in value units, over all cells."""
    rows = int(plan.rows_per_person)

    def noise(u: float) -> float:
        (p,) = [q for q in pieces(at_clamp(agg, u)) if q.stat == "sum"]
        return cells * piece_noise(plan, p, rows).std * p.unit_value

    return noise


def _mechanism(plan: Plan, agg: Aggregate, choice: ClampChoice) -> dict[str, Any]:
    return {
        "mechanism": "least expected error over a noisy histogram of values "
        f"(OpenDP discrete Laplace, sensitivity {int(plan.rows_per_person)} rows)",
        "label": f"{agg.alias} (auto value clamp)",
        "epsilon": plan.epsilon_split[clamp_id(agg)],
        "clamp": choice.clamp,
        "candidates": list(choice.candidates),
        "noisy_rows": list(choice.noisy_rows),
        "scale": choice.scale,
        "estimated_clamped_off": round(choice.estimated_bias, 2),
        "fallback": choice.fallback,
    }


def _histogram(rows: Sequence[Sequence[Any]], n_keys: int, lay: ClampColumns) -> list[int]:
    return [sum(int(r[n_keys + b] or 0) for r in rows) for b in lay.bins]


def choose_clamps(
    plan: Plan, rows: Sequence[Sequence[Any]], ds: DatasetPolicy, losses: Losses
) -> tuple[Plan, list[tuple[Any, ...]], dict[str, Any]]:
    """The plan at its chosen clamps, the totals at them, and each choice's description."""
    layouts = clamp_columns(plan.aggregates, plan.epsilon_split)
    if not layouts:
        return plan, [tuple(r) for r in rows], {}
    nk = len(plan.keys)
    cells = key_combinations([k.key_set for k in plan.keys], ds, unknown=1) if plan.keys else 1
    by_id = {a.id: a for a in plan.aggregates}
    chosen: dict[int, int] = {}
    fixed: dict[str, Aggregate] = {}
    mechanisms: dict[str, Any] = {}
    notes = list(plan.notes)
    for j, lay in enumerate(layouts):
        agg = by_id[lay.aggregate]
        choice = choose_clamp(
            _histogram(rows, nk, lay),
            lay.candidates,
            sensitivity=int(plan.rows_per_person),
            epsilon=pure_epsilon(plan, clamp_id(agg)),
            noise=_noise(plan, agg, cells),
            record=losses.recorder(clamp_id(agg)),
        )
        chosen[j] = lay.candidates.index(choice.clamp)
        fixed[agg.id] = at_clamp(agg, choice.clamp)
        mechanisms[clamp_id(agg)] = _mechanism(plan, agg, choice)
        notes.append(CLAMP_NOTE.format(alias=agg.alias, clamp=choice.clamp))
    narrowed = [(*r[:nk], *at_clamps(r[nk:], chosen, layouts)) for r in rows]
    aggregates = tuple(fixed.get(a.id, a) for a in plan.aggregates)
    new = dataclasses.replace(plan, aggregates=aggregates, notes=tuple(notes))
    return new, narrowed, mechanisms
