"""The dry run: the ε a query would cost and the expected 95% half-width of each aggregate.

Nothing is executed. With an ``"auto"`` rows bound the half-widths are computed for the
worst case (``auto_max_rows`` rows per person) and say so; the real bound is usually far
smaller, so the real intervals are narrower. AVG / VARIANCE / STDDEV intervals depend on
the data (they divide by a noisy count), so their noisy totals' half-widths are given;
MEDIAN / QUANTILE_CONT give the half-width of their noisy row count only.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

from enclave.gateway.plan.contribution import NO_ROWS_BOUND
from enclave.gateway.plan.pieces import COMPOSITION, plan_pieces, sensitivity
from enclave.gateway.values import GatewayContext, Planned
from enclave.noise import half_width

__all__ = ["DryRun", "dry_run_of"]


@dataclass(frozen=True)
class DryRun:
    """What a query would cost and how accurate it would be."""

    epsilon: float
    delta: float
    epsilon_split: Mapping[str, float]
    half_widths: Mapping[str, float]  # aggregate (or noisy part) -> expected 95% half-width
    rows_per_person: int
    rows_bound: str  # "policy" or "auto (worst case …)"
    groups_per_person: int
    composition: str
    notes: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        out = asdict(self)
        out["epsilon_split"] = dict(self.epsilon_split)
        out["half_widths"] = dict(self.half_widths)
        out["notes"] = list(self.notes)
        return out


def dry_run_of(state: Planned, ctx: GatewayContext) -> DryRun:
    """ε, δ and expected 95% half-widths of a planned query; runs nothing."""
    plan = state.plan
    auto = plan.rows_per_person == "auto"
    rows = ctx.dataset.contribution.auto_max_rows if auto else int(plan.rows_per_person)
    widths: dict[str, float] = {}
    for p in plan_pieces(plan.aggregates, plan.epsilon_split):
        if p.stat == "quantile":  # its interval depends on the data (see release.quantiles)
            continue
        sens = sensitivity(p, rows=rows, groups=plan.groups_per_person)  # in integer units
        scale = sens / plan.epsilon_split[p.id]
        widths[p.label or p.id] = half_width(scale, discrete=p.discrete) * p.unit_value
    notes = list(plan.notes)
    if auto:
        notes.append(
            f"rows per person is chosen privately when the query runs; half-widths assume "
            f"the worst case of {rows} rows per person"
        )
    return DryRun(
        epsilon=plan.epsilon,
        delta=plan.delta,
        epsilon_split=dict(plan.epsilon_split),
        half_widths=widths,
        rows_per_person=rows,
        rows_bound=(
            f"auto (worst case {rows})"
            if auto
            else "none needed"
            if rows == NO_ROWS_BOUND
            else "policy"
        ),
        groups_per_person=plan.groups_per_person,
        composition=COMPOSITION,
        notes=tuple(notes),
    )
