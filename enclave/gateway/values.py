"""Frozen value types that flow through the gateway's stages.

Every stage has the signature ``stage(state, ctx) -> next state``, each state a frozen type
that adds what its stage computed (``Requested → Parsed → Authorised → Checked → Planned →
Rewritten → Executed → Bounded → Histogrammed → Noised``), so a stage cannot run on the
wrong input; ``advance`` builds the next value; nothing is mutated in place.
"""

from __future__ import annotations

import dataclasses
import math
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, NamedTuple, TypeVar

if TYPE_CHECKING:
    import sqlglot.expressions as exp

    from enclave.engines.base import Engine
    from enclave.gateway.ports import GatewayStore
    from enclave.policy import DatasetPolicy, ProjectPolicy, TablePolicy
    from enclave.settings import Settings

__all__ = [
    "INTERVAL_NOTE",
    "AggKind",
    "Aggregate",
    "Authorised",
    "Bounded",
    "Checked",
    "Exact",
    "Executed",
    "GatewayContext",
    "GroupKey",
    "Histogrammed",
    "Measurement",
    "Noised",
    "Parsed",
    "PersonTable",
    "Plan",
    "Planned",
    "QueryRequest",
    "Release",
    "Requested",
    "Rewritten",
    "advance",
]

AggKind = Literal["count", "count_distinct", "sum", "avg", "variance", "stddev", "quantile"]


class Exact(NamedTuple):
    """What ``execute`` read: bounded totals, and per quantile aggregate its histogram."""

    columns: tuple[str, ...]
    rows: list[tuple[Any, ...]]
    histograms: Mapping[str, list[tuple[Any, ...]]] = {}


@dataclass(frozen=True)
class QueryRequest:
    """What a researcher asked: SQL, project, and either ε or a target 95% half-width."""

    sql: str
    project: str
    user: str
    epsilon: float | None = None
    half_width: float | None = None
    request_id: str = field(default_factory=lambda: uuid.uuid4().hex)


@dataclass(frozen=True)
class GroupKey:
    alias: str
    sql: str  # the key expression over the bounded relation's columns (DuckDB dialect)
    key_set: str | None = None  # public key set name, or None for a private key


@dataclass(frozen=True)
class Aggregate:
    """One SELECT aggregate. ``id`` is its position in the plan (``a0``, ``a1``…): the
    gateway names its noised pieces after it; ``alias`` is the researcher's label only."""

    alias: str
    kind: AggKind
    sql: str | None  # argument expression; None for COUNT(*)
    lower: float | None = None
    upper: float | None = None
    quantile: float | None = None
    id: str = "a0"
    #: candidate clamps of a ``clamp = "auto"`` argument, ascending, the last = ``upper``;
    #: empty once the clamp is fixed (``plan.clamps``)
    clamps: tuple[float, ...] = ()
    #: a SUM whose clamp applies to each kept (person, group)'s total of its rows, not to
    #: each row (``plan.clamps.group_clamped``): that total's bound (``lower``/``upper``
    #: stay each row's); None for a row clamp
    group_upper: float | None = None


@dataclass(frozen=True)
class Measurement:
    """One noise measurement that ran: its piece id and the privacy loss OpenDP's privacy
    map gives for it at the planned sensitivity."""

    piece: str
    epsilon: float
    delta: float = 0.0
    runs: int = 1  # > 1 only for per-group quantiles of one piece (parallel composition)
    rho: float = 0.0  # zero-concentrated divergence of a Gaussian piece (zcdp projects)


@dataclass(frozen=True)
class Plan:
    """What will be computed and how privately. Filled by the ``plan`` stage."""

    relation_sql: str  # FROM/JOIN/WHERE as one SELECT producing rows with a person column
    person_column: str
    keys: tuple[GroupKey, ...]
    aggregates: tuple[Aggregate, ...]
    rows_per_person: int | Literal["auto"]
    groups_per_person: int
    epsilon: float
    delta: float
    epsilon_split: Mapping[str, float]
    output_columns: tuple[str, ...]
    having_sql: str | None = None
    order_sql: str | None = None
    limit: int | None = None
    notes: tuple[str, ...] = ()
    join_rows_per_table: int | None = None  # rows per person each joined event table keeps
    #: zcdp projects only: the query's ρ and each piece's ρ (the same shares as
    #: ``epsilon_split``, whose ε then attributes ``epsilon`` to the pieces by their ρ)
    rho: float = 0.0
    rho_split: Mapping[str, float] = field(default_factory=dict)


#: One short line every release carries: what its intervals do and do not cover.
INTERVAL_NOTE = (
    "95% intervals cover the noise added for privacy, not the bias from the contribution "
    "bounds applied (rows and groups per person, value clamps: see bounds)."
)


@dataclass(frozen=True)
class Release:
    """A differentially private answer: what leaves the enclave."""

    columns: tuple[str, ...]
    rows: tuple[tuple[Any, ...], ...]
    epsilon_spent: float
    delta_spent: float
    budget_remaining: Mapping[str, Any]
    bounds: Mapping[str, Any]
    mechanisms: Mapping[str, Any]
    composition: str
    release_id: str
    cached: bool = False
    notes: tuple[str, ...] = ()
    interval_note: str = INTERVAL_NOTE

    def to_json(self) -> dict[str, Any]:
        return {
            "columns": list(self.columns),
            "rows": [list(r) for r in self.rows],
            "epsilon_spent": self.epsilon_spent,
            "delta_spent": self.delta_spent,
            "budget_remaining": dict(self.budget_remaining),
            "bounds": dict(self.bounds),
            "mechanisms": dict(self.mechanisms),
            "composition": self.composition,
            "release_id": self.release_id,
            "cached": self.cached,
            "notes": list(self.notes),
            "interval_note": self.interval_note,
        }


@dataclass(frozen=True, kw_only=True)
class Requested:
    """A request on its way in: what was asked, and by when it must be answered."""

    request: QueryRequest
    deadline: float = math.inf  # time.monotonic() by which the whole request must be done


@dataclass(frozen=True)
class PersonTable:
    """One patient-level WITH body (``check.person_tables``): its checked SELECT and the
    table policy it stands for (protected, one row per person, typed bounded columns)."""

    name: str
    body: exp.Select
    table: TablePolicy


@dataclass(frozen=True, kw_only=True)
class Parsed(Requested):
    """One SELECT (sqlglot tree, DuckDB dialect) and its canonical text."""

    ast: exp.Select
    normalized_sql: str


@dataclass(frozen=True, kw_only=True)
class Authorised(Parsed):
    """The project's policy: the member may read every table and column named."""

    project: ProjectPolicy


@dataclass(frozen=True, kw_only=True)
class Checked(Authorised):
    """The checked, normalised tree: a shape the planner can make private.

    ``person_tables`` are the query's patient-level WITH bodies, taken out of ``ast``
    (which names them as tables), each with the table policy the checks gave it.
    """

    person_tables: tuple[PersonTable, ...] = ()


@dataclass(frozen=True, kw_only=True)
class Planned(Checked):
    """What will be computed, with which bounds, and each noised piece's ε."""

    plan: Plan


@dataclass(frozen=True, kw_only=True)
class Rewritten(Planned):
    """The bounded SQL (or the one-pass "auto" SQL) the engine will run."""

    rewritten_sql: str


@dataclass(frozen=True, kw_only=True)
class Executed(Rewritten):
    """The engine's exact answer to ``rewritten_sql`` (never leaves the gateway)."""

    columns: tuple[str, ...]
    rows: tuple[tuple[Any, ...], ...]


@dataclass(frozen=True, kw_only=True)
class Bounded(Executed):
    """Exact bounded totals at a numeric rows bound (chosen privately for "auto")."""

    exact: Exact
    measurements: tuple[Measurement, ...] = ()
    rows_choice: Mapping[str, Any] = field(default_factory=dict)  # the DP "auto" choice
    #: per clamp piece (``a<j>.clamp``), the DP choice of an "auto" value clamp
    clamp_choices: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, kw_only=True)
class Histogrammed(Bounded):
    """Bounded totals plus each quantile aggregate's bounded value histogram."""


@dataclass(frozen=True, kw_only=True)
class Noised(Histogrammed):
    """The differentially private release, and the measurements that made it."""

    release: Release


S = TypeVar("S", bound=Requested)


def advance(state: Requested, kind: type[S], **changes: Any) -> S:
    """The next stage's value: every field of ``state`` carried over, plus ``changes``.

    >>> r = Requested(request=QueryRequest("SELECT 1", "demo", "u"))
    >>> advance(r, Requested, deadline=5.0).deadline
    5.0
    """
    carried = {f.name: getattr(state, f.name) for f in dataclasses.fields(state)}
    carried.update(changes)
    return kind(**carried)


@dataclass(frozen=True)
class GatewayContext:
    """What a request runs against: settings, policies, and the two ports."""

    settings: Settings
    dataset: DatasetPolicy
    projects: Mapping[str, ProjectPolicy]
    engine: Engine
    store: GatewayStore
