"""Each noised piece's mechanism under its project's accounting: the one place that decides.

Under ``pure`` accounting (the default) nothing here changes a plan: every piece runs at
its ε share (``Plan.epsilon_split``) and totals get the discrete Laplace.

Under ``zcdp`` (``enclave.policy.Accounting``) the query's ε — asked for, derived from a
half-width, or the project default, capped as always — is the ε that the release alone
implies at the project's conversion δ; its ρ is the largest ρ whose OpenDP conversion is
within it (``Accounting.rho``), and ``Plan.rho_split`` gives each piece the same share of
ρ that ``epsilon_split`` gives it of ε (so ``epsilon_split`` still adds up to
``epsilon_spent``: it attributes the release's ε to the pieces in proportion to their ρ).

* **Totals** (COUNT, SUM and the counts and sums behind AVG / VARIANCE / STDDEV, all
  exact integers in grid units) get the discrete Gaussian at their ρ share: σ = Δ₂/√(2ρ).
  Their L2 sensitivity equals the L1 one (a person's ``c`` rows may all fall in one
  group), except COUNT(DISTINCT person): one unit in each of ≤ min(g, c) groups, √min(g, c).
* **Mixed pieces** stay pure ε-DP mechanisms — the private choice of an "auto" rows bound,
  the noisy threshold of private keys, the exponential-mechanism quantiles and their
  noisy row counts — each run at ε = √(2ρ), so that its zCDP charge ε²/2 is its ρ share.

>>> from enclave.gateway.plan.pieces import pieces
>>> from enclave.gateway.values import Aggregate, Plan
>>> aggs = (Aggregate("n", "count_distinct", None, id="a0"),)
>>> plan = Plan("", "__pid", (), aggs, 8, 4, 0.5, 0.0, {"a0": 0.5}, ("n",), rho_split={"a0": 2.0})
>>> noise = piece_noise(plan, pieces(aggs[0])[0], rows=8)
>>> noise.name, noise.scale
('discrete_gaussian', 1.0)
>>> pure_epsilon(plan, "a0")
2.0
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from enclave.gateway.plan.pieces import GROUP_PIECES, SELECTION, Piece, sensitivity
from enclave.gateway.values import Plan
from enclave.noise import TotalsNoise, totals_noise
from enclave.policy import Accounting

__all__ = [
    "COMPOSITION_ZCDP",
    "accounting_entry",
    "gaussian",
    "l2_sensitivity",
    "piece_noise",
    "piece_share",
    "pure_epsilon",
    "pure_split",
    "zcdp",
]

COMPOSITION_ZCDP = (
    "ρ-zCDP (discrete Gaussian on exact integer totals; the pure ε-DP pieces — auto bound, "
    "key selection, quantiles — counted as ε²/2-zCDP) with exact composition: ρ of the "
    "pieces and of successive queries adds up; epsilon_spent is the ε this release alone "
    "implies at the project's conversion δ (OpenDP's conversion); δ is spent only by noisy "
    "thresholding of private keys"
)


def zcdp(plan: Plan) -> bool:
    """Whether the plan is accounted in ρ (its project chose ``accounting = "zcdp"``)."""
    return bool(plan.rho_split)


def gaussian(piece: Piece, plan: Plan) -> bool:
    """Whether ``piece`` gets the discrete Gaussian: a total computed in SQL, under zcdp."""
    return zcdp(plan) and piece.in_sql and piece.id != SELECTION


def l2_sensitivity(piece: Piece, *, rows: int, groups: int) -> float:
    """L2 sensitivity of the piece's per-group totals (integer units).

    >>> from enclave.gateway.plan.pieces import selection_piece
    >>> l2_sensitivity(selection_piece(), rows=8, groups=2)
    1.4142135623730951
    """
    if piece.stat == "distinct":
        return math.sqrt(min(groups, rows))
    if piece.stat in GROUP_PIECES:  # at most min(g, c) groups move, each by its bound
        k = min(groups, rows)
        return sensitivity(piece, rows=rows, groups=groups) / k * math.sqrt(k)
    return sensitivity(piece, rows=rows, groups=groups)


def pure_epsilon(plan: Plan, piece_id: str) -> float:
    """The ε a pure ε-DP piece runs at: its ε share, or √(2ρ) of its ρ share under zcdp."""
    if zcdp(plan):
        return math.sqrt(2.0 * plan.rho_split[piece_id])
    return plan.epsilon_split[piece_id]


def pure_split(plan: Plan) -> Mapping[str, float]:
    """``pure_epsilon`` of every piece (``epsilon_split`` itself under pure accounting)."""
    if not zcdp(plan):
        return plan.epsilon_split
    return {k: math.sqrt(2.0 * v) for k, v in plan.rho_split.items()}


def piece_share(plan: Plan, piece: Piece) -> float:
    """The piece's share in its mechanism's unit: ρ for a Gaussian total, else ε."""
    return plan.rho_split[piece.id] if gaussian(piece, plan) else pure_epsilon(plan, piece.id)


def piece_noise(plan: Plan, piece: Piece, rows: int) -> TotalsNoise:
    """The nominal noise of a total piece at ``rows`` rows per person (dry runs, targets)."""
    g = plan.groups_per_person
    return totals_noise(
        gaussian=gaussian(piece, plan),
        l1=sensitivity(piece, rows=rows, groups=g),
        l2=l2_sensitivity(piece, rows=rows, groups=g),
        share=piece_share(plan, piece),
    )


def accounting_entry(plan: Plan, accounting: Accounting) -> dict[str, Any]:
    """What a zcdp release states of its accounting (next to ``epsilon_split``)."""
    return {
        "model": "zcdp",
        "rho": plan.rho,
        "epsilon": plan.epsilon,
        "conversion_delta": accounting.conversion_delta,
        "conversion": "OpenDP make_zCDP_to_approxDP then make_fix_delta at conversion_delta",
        "epsilon_split": "the release's ε attributed to its pieces in proportion to their ρ",
        "pure_pieces": "pure ε-DP pieces run at ε = √(2ρ): pure ε-DP implies ε²/2-zCDP",
    }
