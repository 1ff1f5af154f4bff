"""Stage ``add_noise``: OpenDP noise on the exact bounded totals, then post-processing.

Public keys: every key of the key set(s) is present (missing ⇒ exact zero before noise),
so which keys appear reveals nothing. Private keys: the selection count goes through
OpenDP's ``make_laplace_threshold`` (δ from the plan) and only keys it releases appear;
the other totals of those keys get Laplace noise with their own ε. Then the estimates,
``_se`` and 95% ``_ci_low``/``_ci_high`` are computed (``release.estimates``), and HAVING /
ORDER BY / LIMIT run on these noisy rows only (``postprocess``).
"""

from __future__ import annotations

import dataclasses
import itertools
import json
import math
import uuid
from collections.abc import Sequence
from typing import Any

from enclave.errors import InternalError, QueryRejected
from enclave.gateway.deadline import check_deadline
from enclave.gateway.plan.contribution import NO_ROWS_BOUND
from enclave.gateway.plan.pieces import (
    AUTO,
    COMPOSITION,
    SELECTION,
    Piece,
    plan_pieces,
    sensitivity,
)
from enclave.gateway.release.estimates import (
    Noisy,
    avg_estimate,
    count_estimate,
    spread_estimate,
    sum_estimate,
)
from enclave.gateway.release.losses import Losses
from enclave.gateway.release.postprocess import postprocess
from enclave.gateway.release.quantiles import release_quantiles
from enclave.gateway.values import GatewayContext, Plan, QueryState, Release
from enclave.noise import (
    discrete_laplace_std,
    half_width,
    laplace_int,
    threshold_counts,
    threshold_for_delta,
)
from enclave.policy import DatasetPolicy

__all__ = ["add_noise", "public_domain"]

Key = tuple[Any, ...]


def public_domain(plan: Plan, ds: DatasetPolicy) -> list[Key] | None:
    """Every key tuple when all keys are public (``[()]`` without keys); else None."""
    if any(k.key_set is None for k in plan.keys):
        return None
    sets = []
    for k in plan.keys:
        ks = ds.key_set(k.key_set or "")
        if ks is None:
            raise InternalError("unknown key set")
        sets.append(ks.values)
    size = 1
    for s in sets:
        size *= len(s)
    if size > ds.limits.max_private_groups:
        raise QueryRejected("Too many public key combinations; group by fewer keys.")
    return [tuple(t) for t in itertools.product(*sets)]


def _withheld_notes(
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
            se = discrete_laplace_std(count.get("scale") or 0.0)
            notes.append(
                f"{a.alias}: withheld (NULL, interval = value bounds) in {withheld} of "
                f"{len(rows)} groups where the noisy count behind the average is not clearly "
                f"above zero (that count's SE ≈ {se:.3g}); ask with more ε or a wider group."
            )
    return tuple(notes)


def _columns(plan: Plan) -> dict[str, list[str]]:
    """Each released aggregate column and the ids of the pieces it is computed from."""
    out: dict[str, list[str]] = {a.alias: [] for a in plan.aggregates}
    by_id = {a.id: a.alias for a in plan.aggregates}
    for p in plan_pieces(plan.aggregates, plan.epsilon_split):
        if p.aggregate in by_id:
            out[by_id[p.aggregate]].append(p.id)
    return out


def _canonical(key: Any) -> Any:
    """One form per group key: the engine groups -0.0 with 0.0 (and NaNs together) but keeps
    whichever form it met first, which depends on row order — and so on one person.

    >>> _canonical(-0.0), _canonical(float("nan")) != _canonical(float("nan"))
    (0.0, True)
    """
    if isinstance(key, float):
        if key == 0.0:
            return 0.0
        if math.isnan(key):
            return math.nan
    return key


def _exact_int(v: Any) -> int:
    return 0 if v is None else int(v)


def _noisy(
    values: Sequence[int], piece: Piece, plan: Plan, rows: int, losses: Losses
) -> list[Noisy]:
    eps = plan.epsilon_split[piece.id]
    sens = sensitivity(piece, rows=rows, groups=plan.groups_per_person)
    out, scale = laplace_int(
        values, sensitivity=int(sens), epsilon=eps, record=losses.recorder(piece.id)
    )
    u = piece.unit_value
    std, half = discrete_laplace_std(scale) * u, half_width(scale, discrete=True) * u
    return [Noisy(v * u, std, half, True, scale, u) for v in out]


def _mechanism(piece: Piece, noisy: Sequence[Noisy], plan: Plan, rows: int) -> dict[str, Any]:
    u = piece.unit_value
    return {
        "mechanism": "discrete_laplace (OpenDP, exact integer totals)",
        "label": piece.label,
        "scale": noisy[0].scale * u if noisy else None,
        "sensitivity": sensitivity(piece, rows=rows, groups=plan.groups_per_person) * u,
        "grid": piece.grid if u != 1.0 else None,
        "epsilon": plan.epsilon_split[piece.id],
    }


def _select(
    exact: dict[Key, list[int]], sel: int, piece: Piece, plan: Plan, rows: int, losses: Losses
) -> tuple[dict[Key, float], dict[str, Any]]:
    """Private keys: noisy-threshold selection on the count of persons per key (OpenDP)."""
    l0 = min(plan.groups_per_person, rows)
    l1 = int(sensitivity(piece, rows=rows, groups=plan.groups_per_person))
    linf = 1
    eps = plan.epsilon_split[piece.id]
    scale, tau = threshold_for_delta(l0=l0, l1=l1, linf=linf, epsilon=eps, delta=plan.delta)
    names = {json.dumps(list(k), default=str): k for k in exact}
    kept = threshold_counts(
        {n: exact[k][sel] for n, k in names.items()},
        scale=scale,
        threshold=tau,
        d_in=(l0, l1, linf),
        record=losses.recorder(piece.id),
    )
    mech = {
        "mechanism": "laplace_threshold (OpenDP make_laplace_threshold) on persons per key",
        "label": piece.label,
        "scale": scale,
        "threshold": tau,
        "sensitivity": {"l0": l0, "l1": l1, "linf": linf},
        "epsilon": eps,
        "delta": plan.delta,
    }
    return {names[n]: float(v) for n, v in kept.items()}, mech


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


def add_noise(state: QueryState, ctx: GatewayContext) -> QueryState:
    """Fill ``state.release`` and ``state.measurements`` (ε/δ spent are set by the pipeline)."""
    plan, exact = state.plan, state.exact
    if plan is None or exact is None or not isinstance(plan.rows_per_person, int):
        raise InternalError("add_noise needs a bounded plan and exact totals")
    rows_bound = plan.rows_per_person
    nk = len(plan.keys)
    losses = Losses(state.measurements)
    pieces = [p for p in plan_pieces(plan.aggregates, plan.epsilon_split) if p.in_sql]
    table: dict[Key, list[int]] = {}
    for exact_row in exact[1]:
        table[tuple(_canonical(v) for v in exact_row[:nk])] = [
            _exact_int(v) for v in exact_row[nk:]
        ]
    domain = public_domain(plan, ctx.dataset)
    mechanisms: dict[str, Any] = {}
    if domain is None:
        sel_index = next(i for i, p in enumerate(pieces) if p.id == SELECTION)
        preset, mechanisms[SELECTION] = _select(
            table, sel_index, pieces[sel_index], plan, rows_bound, losses
        )
        domain = list(preset)
    zeros = [0] * len(pieces)
    noisy_cols: list[list[Noisy]] = []
    for i, piece in enumerate(pieces):
        if piece.id == SELECTION:  # released keys only: its noisy counts are not shown
            noisy_cols.append([])
            continue
        values = [table.get(k, zeros)[i] for k in domain]
        noisy_cols.append(_noisy(values, piece, plan, rows_bound, losses))
        mechanisms[piece.id] = _mechanism(piece, noisy_cols[-1], plan, rows_bound)
    quantiles: dict[str, dict[Key, tuple[Any, ...]]] = {}
    for a in plan.aggregates:
        if a.kind == "quantile":
            hist = getattr(exact, "histograms", {}).get(a.id, [])
            quantiles[a.id], mechanisms[a.id] = release_quantiles(
                a,
                plan,
                hist,
                domain,
                rows_bound,
                losses.recorder,
                check=lambda: check_deadline(state.deadline, ctx.settings.query_timeout_s),
            )
    if AUTO in plan.epsilon_split:
        mechanisms[AUTO] = {
            "mechanism": "private_quantile (OpenDP make_private_quantile)",
            "label": "rows per person (auto bound)",
            "quantile": ctx.dataset.contribution.auto_quantile,
            "candidates": f"1..{ctx.dataset.contribution.auto_max_rows}",
            "epsilon": plan.epsilon_split[AUTO],
        }
    key_pos = {k.alias: i for i, k in enumerate(plan.keys)}
    released: list[tuple[Any, ...]] = []
    for j, key in enumerate(domain):
        by_piece = {p.id: noisy_cols[i][j] for i, p in enumerate(pieces) if p.id != SELECTION}
        est = _estimates(plan, by_piece, {a: q[key] for a, q in quantiles.items()})
        row: list[Any] = []
        for col in plan.output_columns:
            if col in key_pos:
                row.append(key[key_pos[col]])
            elif col in est:
                row.extend(est[col])
        released.append(tuple(row))
    notes = _withheld_notes(plan, released, mechanisms)
    final = postprocess(plan, released)
    bounds = {
        "rows_per_person": None if rows_bound == NO_ROWS_BOUND else rows_bound,
        "rows_per_person_source": (
            "none needed (only COUNT(DISTINCT person))"
            if rows_bound == NO_ROWS_BOUND
            else "auto (DP quantile)"
            if AUTO in plan.epsilon_split
            else "policy"
        ),
        "groups_per_person": plan.groups_per_person,
        "clamps": {
            a.alias: [a.lower, a.upper]
            for a in plan.aggregates
            if a.kind not in ("count", "count_distinct")
        },
        "quantile_grids": {
            a.alias: mechanisms[a.id]["candidates"] for a in plan.aggregates if a.kind == "quantile"
        },
        "join_rows_per_table": plan.join_rows_per_table,
        "grids": {p.label: p.grid for p in pieces if p.unit_value != 1.0},
        "public_keys": {k.alias: k.key_set for k in plan.keys if k.key_set},
        "private_keys": [k.alias for k in plan.keys if k.key_set is None],
    }
    release = Release(
        columns=plan.output_columns,
        rows=tuple(final),
        epsilon_spent=plan.epsilon,
        delta_spent=plan.delta,
        budget_remaining={},
        bounds=bounds,
        mechanisms={
            "epsilon_split": dict(plan.epsilon_split),
            "columns": _columns(plan),
            **mechanisms,
        },
        composition=COMPOSITION,
        release_id=uuid.uuid4().hex,
        notes=notes,
    )
    return dataclasses.replace(
        state, noisy=tuple(final), release=release, measurements=losses.measurements()
    )
