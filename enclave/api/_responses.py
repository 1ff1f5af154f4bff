"""The documented shapes of the API's answers (OpenAPI response models).

They document, they do not filter: the routes return the service's JSON as it is, and the
schemathesis test (``tests/integration/test_api_fuzz.py``) checks every answer against these shapes.
Free-form parts (policies' table grants, bounds, mechanisms) stay objects.

>>> sorted(ProblemOut.model_json_schema()["required"])
['detail', 'error', 'status', 'title', 'type']
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field
from pydantic.dataclasses import dataclass

from enclave.api._models import ReleaseOut
from enclave.indicators import PublishedRelease
from enclave.store import AuditRecord, BudgetStatus

__all__ = [
    "AuditOut",
    "AuditVerifyOut",
    "BudgetOut",
    "DryRunOut",
    "HealthOut",
    "MeOut",
    "MembershipOut",
    "NewTokenOut",
    "ProblemOut",
    "ProjectOut",
    "ProjectsOut",
    "PublicReleasesOut",
    "ReleaseOut",
    "ReviewOut",
    "ReviewsOut",
    "RevokedOut",
    "TokensOut",
    "UserOut",
    "UsersOut",
]


class _Out(BaseModel):
    model_config = ConfigDict(frozen=True)


class ErrorOut(_Out):
    type: str = Field(description="The error class (e.g. BudgetExhausted, NotFound).")
    message: str = Field(description="What went wrong and what to do; never a data value.")


class ProblemOut(_Out):
    """A refusal (RFC 7807 problem JSON, ``application/problem+json``)."""

    type: str = Field(description="urn:enclave:error:<class>")
    title: str = Field(description="The error class.")
    status: int = Field(description="The HTTP status.")
    detail: str = Field(description="The message, as in error.message.")
    error: ErrorOut


class HealthOut(_Out):
    status: str = Field(description="'ok' when the metadata store is reachable.")


@dataclass(frozen=True)
class PublicReleaseOut(PublishedRelease):
    # the fields of the indicators' PublishedRelease, two of them described
    period: Annotated[str, Field(description="The ISO week released.")]
    accounting: Annotated[
        dict[str, Any] | None,
        Field(description="The year's terms: k weeks per person, ε per year, weeks left."),
    ] = None


class PublicReleasesOut(_Out):
    releases: list[PublicReleaseOut]


class MeOut(_Out):
    user: str
    role: Literal["steward", "researcher", "public"]
    projects: list[str] = Field(description="Projects this user is a member of.")


@dataclass(frozen=True, kw_only=True)
class BudgetOut(BudgetStatus):
    """A project's budget (and the caller's or a chosen member's share)."""

    # the fields of the store's BudgetStatus; every answer carries these two, so here they
    # are required (the store has defaults for them)
    epsilon_reserved: float = Field(description="ε held by queries still running.")
    composition: str = Field()


class DryRunOut(_Out):
    """What a query would cost and how accurate it would be (nothing run or charged)."""

    epsilon: float
    delta: float
    epsilon_split: dict[str, float] = Field(description="ε of each noised piece.")
    half_widths: dict[str, float] = Field(
        description="95% half-width per COUNT and SUM as released (for an auto rows bound, "
        "at the largest bound it may choose)."
    )
    rows_per_person: int = Field(description="The rows bound, or the largest auto may choose.")
    rows_bound: str
    groups_per_person: int
    composition: str
    notes: list[str]
    half_width_ranges: dict[str, list[float]] = Field(
        default_factory=dict,
        description="Auto rows bound: half-widths from bound 1 to the largest.",
    )
    by_rows_bound: dict[str, dict[str, float]] = Field(
        default_factory=dict,
        description="Auto rows bound: the half-widths at each bound it may choose; the release "
        "states its bound.",
    )
    average_half_widths: dict[str, dict[str, Any]] = Field(
        default_factory=dict,
        description="Per AVG, in its units: half-widths for groups of `rows` rows and the fewest "
        "rows it is released for, at each rows bound.",
    )
    cached: bool = Field(False, description="The same release exists: asking again costs nothing.")
    refusal: ErrorOut | None = Field(
        None, description="How the query would be refused if asked now (budget, review)."
    )
    budget_remaining: BudgetOut | None = None
    rho: float | None = Field(None, description="zcdp projects: the query's ρ (zCDP).")
    rho_split: dict[str, float] | None = Field(
        None, description="zcdp projects: ρ of each noised piece (the ε split's shares)."
    )


class ReviewOut(_Out):
    id: str
    project: str
    requester: str
    cache_key: str
    sql: str
    epsilon: float | None
    half_width: float | None
    plan_epsilon: float = Field(description="ε the query would be charged.")
    status: Literal["pending", "approved", "rejected"]
    steward: str | None
    reason: str | None
    created: str
    updated: str


class ReviewsOut(_Out):
    reviews: list[ReviewOut]


class PolicyOut(_Out):
    id: str
    title: str | None = None
    members: list[str] = Field(default_factory=list)
    tables: dict[str, list[str]] = Field(description="Table -> granted columns ('*': all).")
    epsilon: float
    delta: float
    max_epsilon_per_query: float
    member_epsilon: float | None = None
    review_epsilon: float | None = None
    status: str | None = None
    accounting: Literal["zcdp"] | None = Field(
        None, description="'zcdp' when the project is accounted in ρ (absent: pure ε-DP)."
    )


class ProjectOut(_Out):
    """A project: its application (if it was applied for) and the policy in force."""

    id: str
    status: Literal["pending", "active", "rejected", "suspended"]
    title: str | None = None
    purpose: str | None = None
    tables: list[str] | None = Field(default=None, description="Tables applied for.")
    requested_epsilon: float | None = None
    applicant: str | None = None
    created: str | None = None
    updated: str | None = None
    reason: str | None = Field(default=None, description="The steward's last reason.")
    source: str | None = Field(default=None, description="'policy file' or 'approval'.")
    policy: PolicyOut | None = None


class ProjectsOut(_Out):
    projects: list[ProjectOut]


class MembershipOut(_Out):
    project: str
    user: str
    member: bool = Field(description="Whether the user is now a member.")


class UserOut(_Out):
    id: str
    role: Literal["steward", "researcher", "public"]
    created: str


class UsersOut(_Out):
    users: list[UserOut]


class NewTokenOut(_Out):
    token: str = Field(description="The secret; shown once, store it now.")
    id: str = Field(description="The token's id (to list or revoke it).")
    user: str
    expires: str | None


class TokenOut(_Out):
    id: str
    user: str
    created: str
    expires: str | None
    revoked: str | None


class TokensOut(_Out):
    tokens: list[TokenOut]


class RevokedOut(_Out):
    id: str
    revoked: bool


@dataclass(frozen=True, kw_only=True)
class AuditRecordOut(AuditRecord):
    """One exported audit record: the store's ``AuditRecord`` fields, its place in the
    chain (``seq``) and the hashes that link it to the record before."""

    seq: int = Field(description="Position in the hash chain.")
    prev_hash: str = Field(description="Hash of the record before.")
    hash: str = Field(description="Hash of this record and prev_hash.")
    # exported records always carry every field: required here (the store has defaults)
    sql_hash: str | None = Field()
    epsilon: float | None = Field()
    delta: float | None = Field()
    error_type: str | None = Field()
    detail: str | None = Field()


class AuditOut(_Out):
    records: list[AuditRecordOut]


class AuditVerifyOut(_Out):
    ok: bool
    records: int
    first_bad_seq: int | None
    problem: str | None
    message: str
    head_seq: int | None = None
    head_hash: str | None = None
