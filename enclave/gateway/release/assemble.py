"""Assembling a release from noisy pieces: rows in output order, bounds, notes, labels.

Everything here is post-processing of values that are already noised.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from enclave.gateway.plan.contribution import NO_ROWS_BOUND
from enclave.gateway.plan.person_level import STRUCTURAL_NOTE
from enclave.gateway.plan.pieces import AUTO, plan_pieces
from enclave.gateway.release.estimates import (
    Noisy,
    avg_estimate,
    count_estimate,
    spread_estimate,
    sum_estimate,
)
from enclave.gateway.values import Plan
from enclave.noise import TotalsNoise

__all__ = [
    "piece_columns",
    "release_bounds",
    "released_rows",
    "withheld_notes",
]

Key = tuple[Any, ...]


def _estimates(
    plan: Plan, by_piece: dict[str, Noisy], quantiles: dict[str, tuple[Any, ...]] | None = None
) -> dict[str, tuple[Any, ...]]:
    out: dict[str, tuple[Any, ...]] = {}
    for a in plan.aggregates:
        lo, hi = a.lower or 0.0, a.upper or 0.0
        if a.kind == "quantile":
            out[a.alias] = (quantiles or {}).get(a.id, (None, (hi - lo) / 2, lo, hi))
        elif a.kind in ("count", "count_distinct"):
            out[a.alias] = count_estimate(by_piece[a.id])
        elif a.kind == "sum":
            out[a.alias] = sum_estimate(by_piece[a.id], lo, hi)
        elif a.kind == "avg":
            out[a.alias] = avg_estimate(by_piece[f"{a.id}.sum"], by_piece[f"{a.id}.count"], lo, hi)
        else:
            n, s, q = (by_piece[f"{a.id}.{p}"] for p in ("count", "sum", "sum_sq"))
            out[a.alias] = spread_estimate(n, s, q, lo, hi, stddev=a.kind == "stddev")
    return out


def released_rows(
    plan: Plan,
    domain: Sequence[Key],
    noisy: Mapping[str, Sequence[Noisy]],
    quantiles: Mapping[str, Mapping[Key, tuple[Any, ...]]],
) -> list[tuple[Any, ...]]:
    """One row per released key, laid out exactly as ``plan.output_columns``."""
    key_pos = {k.alias: i for i, k in enumerate(plan.keys)}
    out: list[tuple[Any, ...]] = []
    for j, key in enumerate(domain):
        by_piece = {piece: values[j] for piece, values in noisy.items()}
        est = _estimates(plan, by_piece, {a: q[key] for a, q in quantiles.items()})
        row: list[Any] = []
        for col in plan.output_columns:
            if col in key_pos:
                row.append(key[key_pos[col]])
            elif col in est:
                row.extend(est[col])
        out.append(tuple(row))
    return out


def withheld_notes(
    plan: Plan, rows: Sequence[tuple[Any, ...]], mechanisms: dict[str, Any]
) -> tuple[str, ...]:
    """Say where an average was withheld because its noisy count may be zero."""
    notes = []
    for a in plan.aggregates:
        if a.kind != "avg" or a.alias not in plan.output_columns:
            continue
        at = plan.output_columns.index(a.alias)  # rows are laid out as output_columns
        withheld = sum(1 for r in rows if r[at] is None)
        if withheld:
            count = mechanisms.get(f"{a.id}.count", {})
            gaussian = "discrete_gaussian" in str(count.get("mechanism"))
            se = TotalsNoise(gaussian, count.get("scale") or 0.0).std
            notes.append(
                f"{a.alias}: withheld (NULL, interval = value bounds) in {withheld} of "
                f"{len(rows)} groups where the noisy count behind the average is not clearly "
                f"above zero (that count's SE ≈ {se:.3g}); ask with more ε or a wider group."
            )
    return tuple(notes)


def piece_columns(plan: Plan) -> dict[str, list[str]]:
    """Each released aggregate column and the ids of the pieces it is computed from."""
    out: dict[str, list[str]] = {a.alias: [] for a in plan.aggregates}
    by_id = {a.id: a.alias for a in plan.aggregates}
    for p in plan_pieces(plan.aggregates, plan.epsilon_split):
        if p.aggregate in by_id:
            out[by_id[p.aggregate]].append(p.id)
    return out


def _rows_source(plan: Plan, rows: int) -> str:
    if rows == NO_ROWS_BOUND:
        return "none needed (only COUNT(DISTINCT person))"
    if STRUCTURAL_NOTE in plan.notes:
        return "structural (one row per person)"
    return "auto (least expected error, DP)" if AUTO in plan.epsilon_split else "policy"


def release_bounds(plan: Plan, mechanisms: Mapping[str, Any]) -> dict[str, Any]:
    """The contribution bounds, clamps and grids a release applied."""
    rows = int(plan.rows_per_person)
    pieces = [p for p in plan_pieces(plan.aggregates, plan.epsilon_split) if p.in_sql]
    return {
        "rows_per_person": None if rows == NO_ROWS_BOUND else rows,
        "rows_per_person_source": _rows_source(plan, rows),
        "groups_per_person": plan.groups_per_person,
        "clamps": {
            a.alias: [a.lower, a.upper]
            for a in plan.aggregates
            if a.kind not in ("count", "count_distinct")
        },
        "group_total_clamps": {
            a.alias: a.group_upper for a in plan.aggregates if a.group_upper is not None
        },
        "quantile_grids": {
            a.alias: mechanisms[a.id]["candidates"] for a in plan.aggregates if a.kind == "quantile"
        },
        "join_rows_per_table": plan.join_rows_per_table,
        "grids": {p.label: p.grid for p in pieces if p.unit_value != 1.0},
        "public_keys": {k.alias: k.key_set for k in plan.keys if k.key_set},
        "private_keys": [k.alias for k in plan.keys if k.key_set is None],
    }
