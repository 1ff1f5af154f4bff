"""Stage ``add_noise``: OpenDP noise on the exact bounded totals, then post-processing.

Public keys: every key of the key set(s) is present (missing ⇒ exact zero before noise),
so which keys appear reveals nothing. Private keys: the selection count goes through
OpenDP's ``make_laplace_threshold`` (δ from the plan) and only keys it releases appear;
the other totals of those keys get Laplace noise with their own ε — or, for a project
accounted in ρ-zCDP, the discrete Gaussian with their own ρ (``plan.accounting`` says
which mechanism each piece gets; ``noise.noise_totals`` runs it). Then the estimates,
``_se`` and 95% ``_ci_low``/``_ci_high`` are computed (``release.estimates``), and HAVING /
ORDER BY / LIMIT run on these noisy rows only (``postprocess``).
"""

from __future__ import annotations

import datetime as dt
import itertools
import json
import math
import uuid
from collections.abc import Sequence
from typing import Any

from enclave.errors import InternalError
from enclave.gateway.deadline import check_deadline, request_limit
from enclave.gateway.plan.accounting import (
    COMPOSITION_ZCDP,
    accounting_entry,
    gaussian,
    l2_sensitivity,
    piece_share,
    pure_epsilon,
    zcdp,
)
from enclave.gateway.plan.pieces import (
    AUTO,
    COMPOSITION,
    SELECTION,
    Piece,
    plan_pieces,
    sensitivity,
)
from enclave.gateway.release.assemble import (
    piece_columns,
    release_bounds,
    released_rows,
    withheld_notes,
)
from enclave.gateway.release.estimates import (
    Noisy,
)
from enclave.gateway.release.losses import Losses
from enclave.gateway.release.postprocess import postprocess
from enclave.gateway.release.quantiles import release_quantiles
from enclave.gateway.values import GatewayContext, Histogrammed, Noised, Plan, Release, advance
from enclave.noise import noise_totals, threshold_counts, threshold_for_delta
from enclave.policy import DatasetPolicy, accounting_of

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
    if size > ds.limits.max_private_groups:  # refused by the plan before any data is read
        raise InternalError("the plan let through more public key combinations than allowed")
    return [tuple(t) for t in itertools.product(*sets)]


def _canonical(key: Any) -> Any:
    """One form per group key: the engine groups -0.0 with 0.0 (and NaNs together) but keeps
    whichever form it met first, which depends on row order — and so on one person.

    Dates are released as ISO text, as public date keys and cached releases are.

    >>> _canonical(-0.0), _canonical(float("nan")) != _canonical(float("nan"))
    (0.0, True)
    >>> _canonical(dt.date(2024, 1, 1)), _canonical(dt.datetime(2024, 1, 1))
    ('2024-01-01', '2024-01-01')
    """
    if isinstance(key, dt.datetime):
        return key.date().isoformat() if key.time() == dt.time() else key.isoformat()
    if isinstance(key, dt.date):
        return key.isoformat()
    if isinstance(key, float):
        if key == 0.0:
            return 0.0
        if math.isnan(key):
            return math.nan
    return key


def _key_order(key: Key) -> tuple[Any, ...]:
    """Sort released private keys by value (NULLs last, mixed types grouped by type).

    >>> sorted([("b",), (None,), ("a",)], key=_key_order)
    [('a',), ('b',), (None,)]
    """
    return tuple((v is None, type(v).__name__, v if v is not None else 0) for v in key)


def _exact_int(v: Any) -> int:
    return 0 if v is None else int(v)


def _noisy(
    values: Sequence[int], piece: Piece, plan: Plan, rows: int, losses: Losses
) -> list[Noisy]:
    g = plan.groups_per_person
    out, noise = noise_totals(
        values,
        gaussian=gaussian(piece, plan),
        l1=int(sensitivity(piece, rows=rows, groups=g)),
        l2=l2_sensitivity(piece, rows=rows, groups=g),
        share=piece_share(plan, piece),
        record=losses.recorder(piece.id),
        record_rho=losses.rho_recorder(piece.id),
    )
    u = piece.unit_value
    std, half, scale = noise.std * u, noise.half_width() * u, noise.scale
    return [Noisy(v * u, std, half, True, scale, u, noise.gaussian) for v in out]


def _mechanism(piece: Piece, noisy: Sequence[Noisy], plan: Plan, rows: int) -> dict[str, Any]:
    u = piece.unit_value
    out = {
        "mechanism": "discrete_laplace (OpenDP, exact integer totals)",
        "label": piece.label,
        "scale": noisy[0].scale * u if noisy else None,
        "sensitivity": sensitivity(piece, rows=rows, groups=plan.groups_per_person) * u,
        "grid": piece.grid if u != 1.0 else None,
        "epsilon": plan.epsilon_split[piece.id],
    }
    if gaussian(piece, plan):
        out["mechanism"] = "discrete_gaussian (OpenDP make_gaussian, exact integer totals)"
        out["sensitivity_l2"] = l2_sensitivity(piece, rows=rows, groups=plan.groups_per_person) * u
    return out


def _select(
    exact: dict[Key, list[int]], sel: int, piece: Piece, plan: Plan, rows: int, losses: Losses
) -> tuple[dict[Key, float], dict[str, Any]]:
    """Private keys: noisy-threshold selection on the count of persons per key (OpenDP)."""
    l0 = min(plan.groups_per_person, rows)
    l1 = int(sensitivity(piece, rows=rows, groups=plan.groups_per_person))
    linf = 1
    eps = pure_epsilon(plan, piece.id)
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


def _exact_table(state: Histogrammed) -> dict[Key, list[int]]:
    nk = len(state.plan.keys)
    return {
        tuple(_canonical(v) for v in row[:nk]): [_exact_int(v) for v in row[nk:]]
        for row in state.exact.rows
    }


def _noised_totals(
    state: Histogrammed, ctx: GatewayContext, losses: Losses
) -> tuple[list[Key], dict[str, list[Noisy]], dict[str, Any]]:
    """The released keys, every Laplace piece's noisy totals per key, their mechanisms."""
    plan, rows = state.plan, int(state.plan.rows_per_person)
    pieces = [p for p in plan_pieces(plan.aggregates, plan.epsilon_split) if p.in_sql]
    table = _exact_table(state)
    domain = public_domain(plan, ctx.dataset)
    mechanisms: dict[str, Any] = {}
    if domain is None:
        at = next(i for i, p in enumerate(pieces) if p.id == SELECTION)
        preset, mechanisms[SELECTION] = _select(table, at, pieces[at], plan, rows, losses)
        domain = sorted(preset, key=_key_order)  # released keys in a stable order
    zeros = [0] * len(pieces)
    noisy: dict[str, list[Noisy]] = {}
    for i, piece in enumerate(pieces):
        if piece.id == SELECTION:  # released keys only: its noisy counts are not shown
            continue
        values = [table.get(k, zeros)[i] for k in domain]
        noisy[piece.id] = _noisy(values, piece, plan, rows, losses)
        mechanisms[piece.id] = _mechanism(piece, noisy[piece.id], plan, rows)
    return domain, noisy, mechanisms


def _noised_quantiles(
    state: Histogrammed, ctx: GatewayContext, domain: list[Key], losses: Losses
) -> tuple[dict[str, dict[Key, tuple[Any, ...]]], dict[str, Any]]:
    plan, out, mechanisms = state.plan, {}, {}
    limit = request_limit(ctx.settings)
    for a in plan.aggregates:
        if a.kind != "quantile":
            continue
        out[a.id], mechanisms[a.id] = release_quantiles(
            a,
            plan,
            state.exact.histograms.get(a.id, []),
            domain,
            int(plan.rows_per_person),
            losses.recorder,
            check=lambda: check_deadline(state.deadline, limit),
        )
    return out, mechanisms


def _in_rho(mechanisms: dict[str, Any], state: Histogrammed) -> dict[str, Any]:
    """A zcdp release's mechanisms: each piece's ρ next to its ε (its share of the
    release's ε, as in ``epsilon_split``); a pure ε-DP piece also states the ε it ran at
    (``pure_epsilon``); then the ρ split and the accounting terms."""
    plan = state.plan
    for piece, entry in mechanisms.items():
        if piece in plan.rho_split and isinstance(entry, dict):
            if "discrete_gaussian" not in str(entry.get("mechanism")):
                entry["pure_epsilon"] = pure_epsilon(plan, piece)
            entry["epsilon"] = plan.epsilon_split[piece]
            entry["rho"] = plan.rho_split[piece]
    return {
        "rho_split": dict(plan.rho_split),
        "accounting": accounting_entry(plan, accounting_of(state.project)),
        **mechanisms,
    }


def add_noise(state: Histogrammed, ctx: GatewayContext) -> Noised:
    """The release: noise on every piece, estimates and intervals, post-processing."""
    plan = state.plan
    losses = Losses(state.measurements)
    domain, noisy, mechanisms = _noised_totals(state, ctx, losses)
    quantiles, quantile_mechanisms = _noised_quantiles(state, ctx, domain, losses)
    mechanisms.update(quantile_mechanisms)
    if AUTO in plan.epsilon_split:
        mechanisms[AUTO] = dict(state.rows_choice)
    mechanisms.update({k: dict(v) for k, v in state.clamp_choices.items()})
    if zcdp(plan):
        mechanisms = _in_rho(mechanisms, state)
    released = released_rows(plan, domain, noisy, quantiles)
    release = Release(
        columns=plan.output_columns,
        rows=tuple(postprocess(plan, released)),
        epsilon_spent=plan.epsilon,
        delta_spent=plan.delta,
        budget_remaining={},
        bounds=release_bounds(plan, mechanisms),
        mechanisms={
            "epsilon_split": dict(plan.epsilon_split),
            "columns": piece_columns(plan),
            **mechanisms,
        },
        composition=COMPOSITION_ZCDP if zcdp(plan) else COMPOSITION,
        release_id=uuid.uuid4().hex,
        notes=withheld_notes(plan, released, mechanisms),
    )
    return advance(state, Noised, release=release, measurements=losses.measurements())
