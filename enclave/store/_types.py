"""Frozen value types of the metadata store: budgets, reservations, audit records, principals.

Budgets are kept as integers so that sums never drift: ε in micro-units (1e-6) and δ in
units of 1e-15; for projects accounted in ρ-zCDP, ρ in units of 1e-15 too (a query's ρ can
be far below 1e-6). A charge is rounded *up* to the next unit and a limit *down*, so the
quantisation can only make the accountant more conservative, never less.

>>> to_micro_eps(0.1) * 50 == to_micro_eps(5.0)
True
>>> limits = BudgetLimits(epsilon=5.0, delta=1e-6)
>>> limits.member_epsilon is None
True
"""

from __future__ import annotations

import datetime as dt
import math
import uuid
from dataclasses import asdict, dataclass, field
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal
from typing import TYPE_CHECKING, Any, Literal, get_args

from enclave.errors import UserError
from enclave.policy import Accounting, accounting_of

if TYPE_CHECKING:
    from enclave.policy import ProjectPolicy

__all__ = [
    "COMPOSITION",
    "COMPOSITION_ZCDP",
    "DELTA_SCALE",
    "EPS_SCALE",
    "RHO_SCALE",
    "ROLES",
    "AuditRecord",
    "AuditVerification",
    "BudgetAsk",
    "BudgetLimits",
    "BudgetStatus",
    "Principal",
    "ProjectRecord",
    "Reservation",
    "Role",
    "TopUp",
    "from_delta_units",
    "from_micro_eps",
    "from_rho_units",
    "to_delta_units",
    "to_micro_eps",
    "to_rho_units",
    "utc_now",
]

#: The composition rule the ledger applies, stated in every budget answer.
COMPOSITION = "basic sequential composition of (ε, δ)-DP: ε and δ add up over releases"

#: The rule of a project accounted in ρ-zCDP (``accounting = "zcdp"``), in its budget answers.
COMPOSITION_ZCDP = (
    "zero-concentrated DP: ρ adds up over releases (exactly, in integer units); ε is the "
    "(ε, δ)-DP that ρ implies at conversion_delta (OpenDP's conversion); noisy thresholds "
    "of private keys spend δ (delta_*) on top, so the whole is (ε, conversion_delta + "
    "delta_spent)-DP, within the project's (ε, δ)"
)

EPS_SCALE = 10**6
DELTA_SCALE = 10**15
RHO_SCALE = 10**15

Role = Literal["steward", "researcher", "public"]
#: Every role, in the order messages list them.
ROLES: tuple[Role, ...] = get_args(Role)


def utc_now() -> str:
    """The current time in UTC as ISO 8601 with microseconds."""
    return dt.datetime.now(dt.UTC).isoformat(timespec="microseconds")


def _units(value: float, scale: int, rounding: str, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise UserError(f"{what} must be a finite number; got a {type(value).__name__}.")
    if value < 0:
        raise UserError(f"{what} must not be negative; give a value of 0 or more.")
    return int((Decimal(repr(float(value))) * scale).to_integral_value(rounding=rounding))


def to_micro_eps(value: float, *, charge: bool = True) -> int:
    """ε as integer micro-units: charges round up, limits (``charge=False``) round down.

    >>> to_micro_eps(0.3), to_micro_eps(1e-7), to_micro_eps(1e-7, charge=False)
    (300000, 1, 0)
    """
    return _units(value, EPS_SCALE, ROUND_CEILING if charge else ROUND_FLOOR, "epsilon")


def to_delta_units(value: float, *, charge: bool = True) -> int:
    """δ as integer units of 1e-15, rounded like :func:`to_micro_eps`.

    >>> to_delta_units(1e-6)
    1000000000
    """
    return _units(value, DELTA_SCALE, ROUND_CEILING if charge else ROUND_FLOOR, "delta")


def to_rho_units(value: float, *, charge: bool = True) -> int:
    """ρ as integer units of 1e-15, rounded like :func:`to_micro_eps`.

    >>> to_rho_units(0.0025), to_rho_units(1e-16), to_rho_units(1e-16, charge=False)
    (2500000000000, 1, 0)
    """
    return _units(value, RHO_SCALE, ROUND_CEILING if charge else ROUND_FLOOR, "rho")


def from_rho_units(units: int) -> float:
    """ρ from integer units of 1e-15."""
    return units / RHO_SCALE


def from_micro_eps(units: int) -> float:
    """ε from integer micro-units.

    >>> from_micro_eps(300000)
    0.3
    """
    return units / EPS_SCALE


def from_delta_units(units: int) -> float:
    """δ from integer units of 1e-15.

    >>> from_delta_units(1000000000)
    1e-06
    """
    return units / DELTA_SCALE


@dataclass(frozen=True)
class BudgetLimits:
    """A project's total ε and δ and each member's ε cap, as the policy files state them."""

    epsilon: float
    delta: float = 0.0
    member_epsilon: float | None = None
    #: pure ε-DP, or ρ-zCDP: then ε totals are spent in ρ, and ``delta`` is the δ that
    #: private-key thresholds may spend (the keys' share of the project's δ)
    accounting: Accounting = field(default_factory=Accounting)

    @classmethod
    def from_policy(cls, policy: ProjectPolicy) -> BudgetLimits:
        acc = accounting_of(policy)
        if not acc.zcdp:
            return cls(policy.epsilon, policy.delta, policy.member_epsilon)
        return cls(policy.epsilon, acc.keys_delta, policy.member_epsilon, acc)


@dataclass(frozen=True)
class BudgetAsk:
    """What one request asks the ledger to hold: ε and δ for ``user`` in ``project``, under
    the project's ``limits``; ``request_id`` and ``sql_hash`` tie the charge to its audit
    records."""

    project: str
    user: str
    epsilon: float
    delta: float
    request_id: str
    sql_hash: str
    limits: BudgetLimits
    #: the ρ to hold under zcdp accounting (``epsilon`` is then the release's own ε)
    rho: float = 0.0


@dataclass(frozen=True)
class Reservation:
    """A charge held in the ledger between ``reserve`` and ``commit``/``cancel``: the ask
    as held (ε and δ rounded up to the ledger's units), and when."""

    id: str
    ask: BudgetAsk
    created: str


@dataclass(frozen=True)
class TopUp:
    """Budget a steward adds to a project (or to one ``member``'s share), and why."""

    project: str
    epsilon: float
    delta: float
    reason: str
    member: str | None = None


@dataclass(frozen=True)
class BudgetStatus:
    """Totals, spending and what remains; reserved (in-flight) charges count as spent.

    Member figures are filled when a user is named; ``member_epsilon_remaining`` is what
    the member can still spend, i.e. also capped by what the project has left.
    """

    project: str
    epsilon_total: float
    epsilon_spent: float
    epsilon_remaining: float
    delta_total: float
    delta_spent: float
    delta_remaining: float
    epsilon_reserved: float = 0.0
    member: str | None = None
    member_epsilon_total: float | None = None
    member_epsilon_spent: float | None = None
    member_epsilon_remaining: float | None = None
    composition: str = COMPOSITION
    #: "zcdp" for a project accounted in ρ; then the fields below are filled, ε figures
    #: are what the ρ implies at ``conversion_delta`` and ``epsilon_remaining`` is
    #: ``epsilon_total - epsilon_spent``; under "pure" they are left out of ``to_json``
    accounting: str = "pure"
    conversion_delta: float | None = None
    rho_total: float | None = None
    rho_spent: float | None = None
    rho_remaining: float | None = None
    rho_reserved: float | None = None
    member_rho_total: float | None = None
    member_rho_spent: float | None = None
    member_rho_remaining: float | None = None

    def to_json(self) -> dict[str, Any]:
        out = asdict(self)
        if self.accounting == "pure":
            for name in _ZCDP_FIELDS:
                del out[name]
        return out


#: BudgetStatus fields that only a zcdp project's budget carries.
_ZCDP_FIELDS = (
    "accounting",
    "conversion_delta",
    "rho_total",
    "rho_spent",
    "rho_remaining",
    "rho_reserved",
    "member_rho_total",
    "member_rho_spent",
    "member_rho_remaining",
)


@dataclass(frozen=True)
class AuditRecord:
    """One audit entry. Never a data value: hashes, identifiers of people who act, numbers
    of budget, error types and short fixed texts only."""

    time: str
    request_id: str
    actor: str
    project: str | None
    action: str
    verdict: str
    sql_hash: str | None = None
    epsilon: float | None = None
    delta: float | None = None
    error_type: str | None = None
    detail: str | None = None

    @classmethod
    def now(cls, *, action: str, verdict: str, actor: str, **fields: Any) -> AuditRecord:
        """A record stamped with the current UTC time, or ``time`` (e.g. the store's clock);
        ``request_id`` defaults to a new one.

        >>> AuditRecord.now(action="query", verdict="refused", actor="a", project="p").action
        'query'
        >>> AuditRecord.now(action="x", verdict="applied", actor="a", time="t").time
        't'
        """
        fields.setdefault("time", utc_now())
        fields.setdefault("request_id", uuid.uuid4().hex)
        fields.setdefault("project", None)
        return cls(action=action, verdict=verdict, actor=actor, **fields)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class AuditVerification:
    """Result of walking the audit chain. ``problem`` is None when ``ok``."""

    ok: bool
    records: int
    first_bad_seq: int | None = None
    problem: Literal["edited", "deleted", "reordered", "truncated"] | None = None
    message: str = "The audit chain is intact."
    head_seq: int = 0
    head_hash: str = ""

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Principal:
    """Who a request comes from: the user a valid token belongs to, their role and the
    token's id (rate limits count per token). The one type every layer passes around."""

    user: str
    role: Role
    token_id: str


@dataclass(frozen=True)
class ProjectRecord:
    """A project's lifecycle state in the store (its policy file holds the rules)."""

    id: str
    status: Literal["pending", "active", "suspended", "rejected"]
    title: str
    purpose: str
    tables: tuple[str, ...]
    requested_epsilon: float | None
    applicant: str | None
    created: str
    updated: str
    reason: str | None = None
