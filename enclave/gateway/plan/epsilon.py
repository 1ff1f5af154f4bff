"""Choosing a query's ε and δ, and splitting ε across its parts.

ε comes from, in order: ``request.epsilon``; else ``request.half_width`` — the smallest ε
whose equal split gives every COUNT and SUM a 95% half-width ≤ the target (OpenDP's
``accuracy_to_(discrete_)laplacian_scale`` with alpha = 0.05; AVG/VARIANCE/STDDEV
half-widths depend on the data and do not enter) at the rows bound; for an ``"auto"`` bound
at the largest candidate (``auto_max_rows``, or the largest of 1, 2, 4, … whose ε fits the
per-query cap), which then caps the candidates the bound is chosen from
(``rows_ceiling``), so the released half-widths are within the target whatever bound the
data choose; else the default ``min(0.1 × project ε, per-query cap, review ε)`` (so a
default never needs a review the researcher did not ask for).
For a project accounted in ρ-zCDP the ε is the one the release alone implies at its
conversion δ (``plan.accounting``): a half_width is met by the discrete Gaussian's ρ
(OpenDP's ``accuracy_to_discrete_gaussian_scale``), shown as that ε.
It must be at least ``MIN_EPSILON`` = 1e-4, and ``MIN_EPSILON_SHARE`` = 1e-5 for each
aggregate (see ``choose_epsilon``), and must not exceed
``ProjectPolicy.max_epsilon_per_query``.

δ per query (private keys only) is ``min(project δ / 10, 1e-6)`` — of the δ that private
keys may spend (``Accounting.keys_delta``: all of it under pure accounting, half under zcdp).

>>> from enclave.gateway.values import Aggregate
>>> aggs = [Aggregate("n", "count", None, id="a0"), Aggregate("m", "avg", "__a1", id="a1")]
>>> split = split_epsilon(1.0, aggs, [], auto=True, auto_share=0.1)
>>> {k: round(v, 3) for k, v in split.items()}
{'rows_bound': 0.1, 'a0': 0.45, 'a1.sum': 0.225, 'a1.count': 0.225}
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Sequence

from enclave.errors import PolicyViolation, QueryRejected
from enclave.gateway.plan.accounting import l2_sensitivity, piece_noise
from enclave.gateway.plan.clamps import CLAMP_SHARE, clamp_id, clamped
from enclave.gateway.plan.pieces import AUTO, Piece, pieces, plan_pieces, sensitivity
from enclave.gateway.values import Aggregate, GroupKey, Plan, QueryRequest
from enclave.noise import row_candidates, share_for_half_width
from enclave.policy import Accounting, ContributionPolicy, ProjectPolicy, accounting_of

__all__ = [
    "AUTO",
    "MIN_EPSILON",
    "MIN_EPSILON_SHARE",
    "choose_epsilon",
    "query_delta",
    "rows_ceiling",
    "split_epsilon",
]


def query_delta(project: ProjectPolicy, keys: Sequence[GroupKey]) -> float:
    """δ a query with private keys spends; refuses when the project has δ = 0."""
    if project.delta <= 0:
        public = ", ".join(k.alias for k in keys if k.key_set is not None)
        hint = f" (public here: {public})" if public else ""
        raise PolicyViolation(
            "This query groups by a non-public key; the project has δ = 0 — group by one of "
            "the public keys: region, sex, insurance_category, setting, provider_type, "
            "date_trunc('week'|'month', visit_date), substr(icd10, 1, 1)" + hint + "."
        )
    return min(accounting_of(project).keys_delta / 10.0, 1e-6)


def split_epsilon(
    epsilon: float,
    aggregates: Sequence[Aggregate],
    extra: Sequence[Piece],
    *,
    auto: bool,
    auto_share: float,
) -> dict[str, float]:
    """ε per piece: auto-bound share first, then equal shares per aggregate (and selection)."""
    split: dict[str, float] = {}
    rest = epsilon
    if auto:
        split[AUTO] = epsilon * auto_share
        rest = epsilon - split[AUTO]
    groups: list[tuple[Piece, ...]] = [pieces(a) for a in aggregates] + [(p,) for p in extra]
    share = rest / len(groups)
    for a in clamped(aggregates):  # the histogram a value clamp is chosen from
        split[clamp_id(a)] = share * CLAMP_SHARE
    kept = {a.id: 1.0 - CLAMP_SHARE for a in clamped(aggregates)}
    for group in groups:
        total = sum(p.weight for p in group)
        for p in group:
            split[p.id] = share * kept.get(p.aggregate, 1.0) * p.weight / total
    return split


def _needed(
    half_width: float,
    all_pieces: Sequence[Piece],
    rows: int,
    groups: int,
    n_groups: int,
    zcdp: bool = False,
) -> float:
    """The ε (or, ``zcdp``, ρ) the query needs for ``half_width`` on every COUNT and SUM."""
    need = 0.0
    for p in all_pieces:
        if p.id != p.aggregate or not p.in_sql:  # parts of AVG / VARIANCE / STDDEV, quantiles
            continue
        share = share_for_half_width(
            half_width / p.unit_value,  # in units
            gaussian=zcdp,
            l1=sensitivity(p, rows=rows, groups=groups),
            l2=l2_sensitivity(p, rows=rows, groups=groups),
        )
        need = max(need, share)
    if need == 0.0:
        raise QueryRejected(
            "half_width applies to COUNT and SUM; for AVG, VARIANCE, STDDEV or quantiles "
            "give epsilon."
        )
    return need * n_groups


#: the smallest ε one query may spend: below it every answer is noise, and noise scales
#: leave what OpenDP represents (documented in docs/privacy-model.md)
MIN_EPSILON = 1e-4
#: the smallest ε share of each aggregate (and of key selection), after the auto-bound
#: share: with many aggregates the minimum ε of a query is higher than MIN_EPSILON
MIN_EPSILON_SHARE = 1e-5


def _positive_finite(value: object) -> float | None:
    """``value`` as a finite positive float, or None (nan, ±inf, ≤ 0, not a number)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError, OverflowError):
        return None
    return number if math.isfinite(number) and number > 0 else None


def _shown_up(x: float) -> str:
    """``x`` rounded *up* to two significant digits (so asking for it passes)."""
    unit = 10.0 ** (math.floor(math.log10(x)) - 1)
    return f"{math.ceil(x / unit - 1e-9) * unit:.2g}"


def _asked(epsilon: float, floor: float, minimum: str) -> float:
    asked = _positive_finite(epsilon)
    if asked is None:
        raise QueryRejected(f"epsilon must be a finite number, at least {minimum}.")
    if asked < floor:
        raise QueryRejected(f"epsilon is below {minimum}. Ask for more ε, or use fewer aggregates.")
    return asked


def _epsilon_at(
    width: float,
    all_pieces: Sequence[Piece],
    rows: int,
    groups: int,
    acc: Accounting,
    kept: float = 1.0,
) -> float:
    """The ε ``width`` needs at ``rows``, ``kept`` of it for the aggregates; under zcdp the
    ε of the ρ needed (with 1e-5 to spare, so fitted scales stay within the half-width)."""
    n_groups = len({p.aggregate for p in all_pieces})
    try:
        need = _needed(width, all_pieces, rows, groups, n_groups, acc.zcdp) / kept
    except (ZeroDivisionError, OverflowError):  # a half-width too narrow for a double
        return math.inf
    if not acc.zcdp:
        return need
    return acc.epsilon(need * (1 + 1e-5)) if math.isfinite(need) else math.inf


def _from_half_width(
    half_width: float,
    all_pieces: Sequence[Piece],
    contrib: ContributionPolicy,
    groups: int,
    limits: tuple[float, float, str],
    acc: Accounting,
    clamps: bool,
) -> tuple[float, str]:
    """The ε a half-width needs (for "auto": at the largest candidate that fits the cap;
    a value clamp's sum has 1 − ``CLAMP_SHARE`` of its aggregate's share and its largest
    candidate bounds the half-width whichever clamp is chosen)."""
    cap, floor, minimum = limits
    width = _positive_finite(half_width)
    if width is None:
        raise QueryRejected(
            "half_width must be a finite positive number (the target 95% half-width of "
            "each COUNT and SUM, in its own units)."
        )
    clamp_kept = 1.0 - CLAMP_SHARE if clamps else 1.0
    if contrib.rows_per_person != "auto":
        rows = int(contrib.rows_per_person)
        epsilon = _epsilon_at(width, all_pieces, rows, groups, acc, clamp_kept)
        note = "ε from half_width"
    else:
        kept = (1.0 - contrib.auto_epsilon_share) * clamp_kept
        for rows in reversed(row_candidates(contrib.auto_max_rows)):
            epsilon = _epsilon_at(width, all_pieces, rows, groups, acc, kept)
            if epsilon <= cap * (1 + 1e-12):
                break
        note = (
            f"ε from half_width at {rows} rows per person: the auto bound is chosen among "
            f"bounds up to {rows}, so every COUNT and SUM half-width is within half_width"
        )
    if not math.isfinite(epsilon) or epsilon > cap * (1 + 1e-12):
        raise PolicyViolation(
            f"This half_width needs more ε than this project allows per query (at most "
            f"{cap:g}); widen half_width, give epsilon, or ask the steward."
        )
    if epsilon < floor:
        raise QueryRejected(
            f"This half_width is so wide that it needs less ε than {minimum}. Ask for "
            "a narrower half_width, or give epsilon."
        )
    return epsilon, note


def rows_ceiling(half_width: float | None, plan: Plan, cap: int) -> int:
    """The largest "auto" candidate at which every COUNT and SUM of ``plan`` keeps its 95%
    half-width within ``half_width`` (``cap`` when no half-width was asked; 1 if none fits).

    >>> from enclave.gateway.values import Aggregate
    >>> agg = (Aggregate("n", "count", None, id="a0"),)
    >>> plan = Plan("", "__pid", (), agg, "auto", 1, 1.0, 0.0, {"rows_bound": 0.1, "a0": 0.9},
    ...             ("n",))
    >>> rows_ceiling(None, plan, 512), rows_ceiling(40.0, plan, 512), rows_ceiling(1e9, plan, 512)
    (512, 8, 512)
    """
    if half_width is None:
        return cap
    split = plan.epsilon_split
    checked = [p for p in plan_pieces(plan.aggregates, split) if p.id == p.aggregate and p.in_sql]
    fits = 1
    for rows in row_candidates(cap):
        widths = (piece_noise(plan, p, rows).half_width() * p.unit_value for p in checked)
        if not all(w <= half_width * (1 + 1e-9) for w in widths):
            break
        fits = rows
    return fits


def _floor(
    all_pieces: Sequence[Piece], contrib: ContributionPolicy, clamps: bool
) -> tuple[float, str]:
    """This query's minimum ε and how a message states it (a value clamp's histogram has
    ``CLAMP_SHARE`` of its aggregate's share, and needs the minimum too)."""
    kept = (1.0 - contrib.auto_epsilon_share) if contrib.rows_per_person == "auto" else 1.0
    kept *= CLAMP_SHARE if clamps else 1.0
    floor = max(MIN_EPSILON, MIN_EPSILON_SHARE * len({p.aggregate for p in all_pieces}) / kept)
    minimum = (
        f"this query's minimum of {_shown_up(floor)} (at least {MIN_EPSILON:g} per query "
        f"and {MIN_EPSILON_SHARE:g} per aggregate; see docs/privacy-model.md)"
    )
    return floor, minimum


def choose_epsilon(
    request: QueryRequest,
    project: ProjectPolicy,
    contrib: ContributionPolicy,
    all_pieces: Sequence[Piece],
    groups: int,
    clamps: bool = False,
) -> tuple[float, list[str]]:
    """The query's ε and notes saying where it came from.

    Refused here, in the front half before any budget is reserved, with messages that do
    not repeat the numbers asked for: ε or half_width that is not a finite positive
    number; ε below this query's minimum — ``MIN_EPSILON``, and ``MIN_EPSILON_SHARE`` for
    each aggregate and key selection after the auto-bound share — whether asked for,
    derived from half_width or the project default; ε above the per-query cap.
    """
    floor, minimum = _floor(all_pieces, contrib, clamps)
    cap = project.max_epsilon_per_query
    if request.epsilon is not None:
        epsilon, note = _asked(request.epsilon, floor, minimum), "ε as requested"
    elif request.half_width is not None:
        limits, acc = (cap, floor, minimum), accounting_of(project)
        epsilon, note = _from_half_width(
            request.half_width, all_pieces, contrib, groups, limits, acc, clamps
        )
    else:
        review = project.review_epsilon if project.review_epsilon is not None else math.inf
        epsilon = min(0.1 * project.epsilon, project.max_epsilon_per_query, review)
        note = "default ε = min(0.1 × project ε, per-query cap, review threshold)"
        if epsilon < floor:
            raise QueryRejected(
                f"This project's default ε (0.1 × project ε, capped) is below {minimum}. "
                "Give epsilon."
            )
    if epsilon > cap * (1 + 1e-12):
        raise PolicyViolation(
            f"Requested ε = {epsilon:.4g} but this project allows at most {cap:g} per query; "
            "lower epsilon, widen half_width, or ask the steward."
        )
    return epsilon, [note]
