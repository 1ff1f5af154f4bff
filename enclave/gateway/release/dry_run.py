"""The dry run: the ε a query would cost and the 95% half-widths its release will have.

Nothing is executed; every half-width is the one the noise stage computes — OpenDP's
accuracy at the scale ``sensitivity / ε share`` of the same piece (``widths_at``):

* a fixed or structural rows bound: the released half-widths, exactly;
* an ``"auto"`` bound is chosen when the query runs, among 1, 2, 4, … up to
  ``rows_per_person`` (``auto_max_rows``, or lower when a ``half_width`` ask caps it:
  ``plan.epsilon.rows_ceiling``). ``half_widths`` are at that largest bound (the most they
  can be; for a ``half_width`` ask, within it), ``half_width_ranges`` go from the smallest
  bound to it, and ``by_rows_bound`` gives them at every bound it may choose: the release
  states the bound chosen, and its half-widths are that row;
* AVG in the average's units (``average_half_widths``): its interval divides a noisy sum
  by a noisy count, so it is given for groups of 100 … 100,000 rows (of a mid-range
  average), with the fewest rows for which it is released, not withheld — at every rows
  bound the run may use;
* an ``"auto"`` value clamp is chosen when the query runs too (``release.clamp``):
  ``half_widths`` are at its largest candidate, ``by_clamp`` gives the half-widths at
  every candidate (at the largest rows bound), and ``half_width_ranges`` go from the
  smallest clamp (and rows bound) to the largest;
* VARIANCE / STDDEV: the half-widths of their noisy parts; MEDIAN / QUANTILE_CONT: of its
  noisy row count (their intervals depend on the data).

``refusal`` says whether the query, asked now, would be refused before it runs: the
budget left (project, member, δ; in ρ for a zcdp project) or a steward's review
(``pipeline.dry_run``). A zcdp project's pieces get their own noise (the discrete
Gaussian at their ρ share, ``plan.accounting.piece_noise``), and the dry run states ρ.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from enclave.gateway.plan.accounting import COMPOSITION_ZCDP, piece_noise, zcdp
from enclave.gateway.plan.clamps import at_clamp, clamped
from enclave.gateway.plan.contribution import NO_ROWS_BOUND
from enclave.gateway.plan.epsilon import rows_ceiling
from enclave.gateway.plan.person_level import STRUCTURAL_NOTE
from enclave.gateway.plan.pieces import (
    AUTO,
    COMPOSITION,
    SELECTION,
    VALUE_PIECES,
    Piece,
    pieces,
    plan_pieces,
)
from enclave.gateway.release.estimates import Noisy, avg_estimate
from enclave.gateway.values import Aggregate, GatewayContext, Plan, Planned
from enclave.noise import ALPHA, row_candidates

__all__ = ["AVERAGE_ROWS", "DryRun", "average_half_width", "dry_run_of", "refusal", "widths_at"]

#: group sizes (rows) at which an average's half-width is previewed
AVERAGE_ROWS = (100, 1_000, 10_000, 100_000)


@dataclass(frozen=True)
class DryRun:
    """What a query would cost and how accurate it would be."""

    epsilon: float
    delta: float
    epsilon_split: Mapping[str, float]
    half_widths: Mapping[str, float]  # aggregate (or noisy part) -> 95% half-width
    rows_per_person: int  # the bound, or for "auto" the largest it may choose
    rows_bound: str
    groups_per_person: int
    composition: str
    notes: tuple[str, ...] = ()
    half_width_ranges: Mapping[str, tuple[float, float]] = field(default_factory=dict)
    by_rows_bound: Mapping[str, Mapping[str, float]] = field(default_factory=dict)
    average_half_widths: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    #: per "auto" value clamp: the aggregate's half-widths at every candidate clamp
    by_clamp: Mapping[str, Mapping[str, float]] = field(default_factory=dict)
    #: a zcdp project's ρ and its split (left out of ``to_json`` under pure accounting)
    rho: float = 0.0
    rho_split: Mapping[str, float] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        out = asdict(self)
        out["half_width_ranges"] = {k: list(v) for k, v in self.half_width_ranges.items()}
        out["notes"] = list(self.notes)
        if not self.rho_split:
            del out["rho"], out["rho_split"]
        return out


def _shown(plan: Plan) -> list[Piece]:
    """Pieces whose half-width is shown: not key selection, quantiles or AVG's parts."""
    avg = {a.id for a in plan.aggregates if a.kind == "avg"}
    return [
        p
        for p in plan_pieces(plan.aggregates, plan.epsilon_split)
        if p.id != SELECTION and p.stat != "quantile" and p.aggregate not in avg
    ]


def widths_at(plan: Plan, rows: int) -> dict[str, float]:
    """The 95% half-width of every shown piece at rows bound ``rows`` (as released)."""
    return {
        p.label or p.id: piece_noise(plan, p, rows).half_width() * p.unit_value
        for p in _shown(plan)
    }


#: said when the release will split ε by need (``release.need``) once its bound is chosen
NEED_NOTE = (
    "epsilon_split is the planned equal split: once the rows bound is chosen the release "
    "moves ε between the aggregates (and an AVG's sum and count) by need, and states the "
    "split it ran at in mechanisms.epsilon_split; each half-width then moves with its share"
)


def _by_clamp(plan: Plan, rows: int) -> dict[str, dict[str, float]]:
    """Per clamped SUM / VARIANCE / STDDEV piece shown: its half-width at each candidate."""
    out: dict[str, dict[str, float]] = {}
    shown = {p.id for p in _shown(plan)}
    for a in clamped(plan.aggregates):
        for c in a.clamps:
            for p in pieces(at_clamp(a, c)):
                if p.id in shown and p.stat in VALUE_PIECES:
                    width = piece_noise(plan, p, rows).half_width() * p.unit_value
                    out.setdefault(p.label or p.id, {})[f"{c:g}"] = width
    return out


def _noisy(p: Piece, plan: Plan, rows: int, value: float) -> Noisy:
    noise, u = piece_noise(plan, p, rows), p.unit_value
    std, half = noise.std * u, noise.half_width() * u
    return Noisy(value, std, half, True, noise.scale, u, noise.gaussian)


def average_half_width(plan: Plan, agg: Aggregate, rows: int, n: float, mean: float) -> float:
    """The released AVG interval's half-width for a group of ``n`` rows averaging ``mean``
    at rows bound ``rows`` (noise-free totals; ``estimates.avg_estimate`` does the rest)."""
    by_id = {p.id: p for p in plan_pieces(plan.aggregates, plan.epsilon_split)}
    s = _noisy(by_id[f"{agg.id}.sum"], plan, rows, mean * n)
    c = _noisy(by_id[f"{agg.id}.count"], plan, rows, n)
    _, _, low, high = avg_estimate(s, c, agg.lower or 0.0, agg.upper or 0.0)
    return (float(high) - float(low)) / 2  # type: ignore[arg-type]


def _averages(plan: Plan, bounds: Sequence[int]) -> dict[str, dict[str, Any]]:
    """Per AVG: its half-width for groups of ``AVERAGE_ROWS`` rows, and the fewest rows
    for which it is released, at each rows bound the run may use."""
    out: dict[str, dict[str, Any]] = {}
    for a in plan.aggregates:
        if a.kind != "avg":
            continue
        mid = ((a.lower or 0.0) + (a.upper or 0.0)) / 2
        count = next(p for p in plan_pieces((a,), {}) if p.id == f"{a.id}.count")
        out[a.alias] = {
            "rows": list(AVERAGE_ROWS),
            "by_rows_bound": {
                str(c): [average_half_width(plan, a, c, float(n), mid) for n in AVERAGE_ROWS]
                for c in bounds
            },
            "released_from_rows": {
                str(c): int(piece_noise(plan, count, c).half_width(ALPHA / 2)) + 1 for c in bounds
            },
        }
    return out


def _rows_label(plan: Plan, auto: bool, rows: int) -> str:
    if auto:
        return f"auto (chosen privately among 1, 2, 4, …, {rows} when the query runs)"
    if rows == NO_ROWS_BOUND:
        return "none needed"
    return "structural (one row per person)" if STRUCTURAL_NOTE in plan.notes else "policy"


def dry_run_of(state: Planned, ctx: GatewayContext) -> DryRun:
    """ε, δ and the 95% half-widths of a planned query; runs nothing."""
    plan = state.plan
    auto = AUTO in plan.epsilon_split
    cap = ctx.dataset.contribution.auto_max_rows
    ask = state.request
    width = ask.half_width if ask.epsilon is None else None
    rows = rows_ceiling(width, plan, cap) if auto else int(plan.rows_per_person)
    notes = list(plan.notes)
    table: dict[str, dict[str, float]] = {}
    ranges: dict[str, tuple[float, float]] = {}
    if auto:
        table = {str(c): widths_at(plan, c) for c in row_candidates(cap) if c <= rows}
        ranges = {k: (table["1"][k], v) for k, v in table[str(rows)].items()}
        notes.append(
            f"rows per person is chosen privately when the query runs, at most {rows}: "
            "half_widths are at that bound; the release states the bound it chose, and its "
            "half-widths are those of by_rows_bound at it"
        )
    if (
        auto
        and width is None
        and (len(plan.aggregates) > 1 or any(a.kind == "avg" for a in plan.aggregates))
    ):
        notes.append(NEED_NOTE)
    by_clamp = _by_clamp(plan, rows)
    for label, widths in by_clamp.items():
        low = min(widths.values()) * (ranges[label][0] / ranges[label][1] if label in ranges else 1)
        ranges[label] = (low, max(widths.values()))
    if by_clamp:
        notes.append(
            "value clamps are chosen privately when the query runs (auto): half_widths are "
            "at the largest candidate; the release states the clamp it chose, and its "
            "half-widths are those of by_clamp at it"
        )
    if any(a.kind == "avg" for a in plan.aggregates):
        notes.append(
            "AVG half-widths are in the average's units, for groups of 100 to 100,000 rows "
            "at each rows bound (average_half_widths)"
        )
    return DryRun(
        epsilon=plan.epsilon,
        delta=plan.delta,
        epsilon_split=dict(plan.epsilon_split),
        half_widths=widths_at(plan, rows),
        rows_per_person=rows,
        rows_bound=_rows_label(plan, auto, rows),
        groups_per_person=plan.groups_per_person,
        composition=COMPOSITION_ZCDP if zcdp(plan) else COMPOSITION,
        notes=tuple(notes),
        half_width_ranges=ranges,
        by_rows_bound=table,
        by_clamp=by_clamp,
        average_half_widths=_averages(plan, [int(c) for c in table] if table else [rows]),
        rho=plan.rho,
        rho_split=dict(plan.rho_split),
    )


def refusal(
    plan: Plan, remaining: Mapping[str, Any], review: str | None = None
) -> dict[str, str] | None:
    """How the query, asked now, would be refused before it runs — or None.

    >>> left = {"project": "p", "epsilon_remaining": 0.2, "delta_remaining": 0.0}
    >>> plan = Plan("", "__pid", (), (), 1, 1, 0.5, 0.0, {}, ())
    >>> refusal(plan, left)["type"]
    'BudgetExhausted'
    >>> refusal(plan, {**left, "epsilon_remaining": 0.5}) is None
    True
    """
    slack = 1e-9
    project = remaining.get("project", "")
    need, unit, sym = (plan.rho, "rho", "ρ") if zcdp(plan) else (plan.epsilon, "epsilon", "ε")
    checks = [
        (need, remaining.get(f"{unit}_remaining"), sym, f"project {project!r}"),
        (plan.delta, remaining.get("delta_remaining"), "δ", f"project {project!r}"),
        (need, remaining.get(f"member_{unit}_remaining"), sym, "you in this project"),
    ]
    for need, left, sym, whom in checks:
        if left is not None and need > float(left) + slack:
            return {
                "type": "BudgetExhausted",
                "message": f"Would be refused: this query needs {sym} = {need:.4g} and "
                f"{whom} has {sym} = {float(left):.4g} left; lower epsilon, widen "
                "half_width, or ask the steward for more budget.",
            }
    if review is not None:
        return {"type": "PolicyViolation", "message": f"Would be refused: {review}"}
    return None
