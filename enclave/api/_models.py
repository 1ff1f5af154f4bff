"""Request bodies of the HTTP API (pydantic, unknown fields refused), and the documented
shape of a release (``ReleaseOut``, the 200 response of ``POST /v1/queries``).

>>> QueryBody(sql="SELECT COUNT(*) FROM persons", project="demo", epsilon=0.5).epsilon
0.5
>>> "interval_note" in ReleaseOut.model_json_schema()["required"]
True
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

__all__ = [
    "ApplicationBody",
    "ApprovalBody",
    "DecisionBody",
    "MemberBody",
    "QueryBody",
    "ReleaseOut",
    "TokenBody",
    "TopUpBody",
    "UserBody",
]

_ID = r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,127}$"


def _examples(*examples: dict[str, Any]) -> ConfigDict:
    """The shared body config, with ``examples`` for OpenAPI (and Swagger UI's Try it out)."""
    return ConfigDict(
        extra="forbid", frozen=True, strict=True, json_schema_extra={"examples": list(examples)}
    )


class _Body(BaseModel):
    # strict: "0.1" is not a number and 1 is not a string (no silent coercion)
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


class QueryBody(_Body):
    """A researcher's question: SQL, project, and ε or a target 95% half-width (not both)."""

    model_config = _examples(
        {
            "sql": "SELECT region, COUNT(*) AS n FROM persons GROUP BY region",
            "project": "demo",
            "epsilon": 0.5,
        },
        {
            "sql": "SELECT AVG(los_days) AS mean_los FROM claims",
            "project": "demo",
            "half_width": 0.2,
        },
    )

    sql: str = Field(min_length=1, max_length=20_000)
    project: str | None = Field(default=None, pattern=_ID)
    epsilon: float | None = Field(default=None, gt=0, allow_inf_nan=False)
    half_width: float | None = Field(default=None, gt=0, allow_inf_nan=False)

    @model_validator(mode="after")
    def _one_of(self) -> QueryBody:
        if self.epsilon is not None and self.half_width is not None:
            raise ValueError("give either epsilon or half_width, not both")
        return self


class ApplicationBody(_Body):
    """A researcher's project application."""

    model_config = _examples(
        {
            "id": "flu-study",
            "title": "Influenza admissions",
            "purpose": "Seasonal admissions by region.",
            "tables": ["persons", "claims"],
            "epsilon": 2.0,
        }
    )

    id: str = Field(pattern=r"^[a-z0-9][a-z0-9-]{1,62}$")
    title: str = Field(min_length=1, max_length=200)
    purpose: str = Field(min_length=1, max_length=4000)
    tables: list[str] = Field(min_length=1, max_length=20)
    epsilon: float | None = Field(default=None, gt=0, allow_inf_nan=False)
    #: stewards only: record the application on behalf of this researcher
    applicant: str | None = Field(default=None, pattern=_ID)


class ApprovalBody(_Body):
    """What a steward sets when approving: tables/columns, ε/δ, caps, review threshold."""

    model_config = _examples(
        {
            "tables": {"persons": ["*"], "claims": ["claim_date", "los_days"]},
            "epsilon": 2.0,
            "max_epsilon_per_query": 0.5,
            "review_epsilon": 0.4,
            "reason": "Ethics approval on file.",
        }
    )

    tables: dict[str, list[str]] = Field(min_length=1)
    epsilon: float = Field(gt=0, allow_inf_nan=False)
    delta: float = Field(default=0.0, ge=0, lt=1e-3)
    max_epsilon_per_query: float = Field(gt=0, allow_inf_nan=False)
    member_epsilon: float | None = Field(default=None, gt=0, allow_inf_nan=False)
    review_epsilon: float | None = Field(default=None, gt=0, allow_inf_nan=False)
    title: str | None = Field(default=None, max_length=200)
    reason: str | None = Field(default=None, max_length=1000)


class DecisionBody(_Body):
    model_config = _examples({"reason": "Purpose does not need person-level joins."})

    reason: str | None = Field(default=None, max_length=1000)


class MemberBody(_Body):
    model_config = _examples({"user": "alice@uni"})

    user: str = Field(pattern=_ID)


class UserBody(_Body):
    model_config = _examples({"id": "alice@uni", "role": "researcher"})

    id: str = Field(pattern=_ID)
    role: Literal["steward", "researcher", "public"]


class TokenBody(_Body):
    model_config = _examples({"user": "alice@uni", "ttl_days": 30})

    user: str = Field(pattern=_ID)
    ttl_days: float | None = Field(default=None, gt=0, le=3650)


class TopUpBody(_Body):
    """A budget top-up: never negative, always with a reason (it is audited)."""

    model_config = _examples({"epsilon": 0.5, "reason": "Second wave of the analysis plan."})

    epsilon: float = Field(ge=0, allow_inf_nan=False)
    delta: float = Field(default=0.0, ge=0, lt=1e-3)
    reason: str = Field(min_length=1, max_length=1000)
    member: str | None = Field(default=None, pattern=_ID)


class ReleaseOut(BaseModel):
    """A differentially private release: what ``POST /v1/queries`` answers (same JSON as
    ``enclave query --json``)."""

    model_config = ConfigDict(frozen=True)

    columns: list[str] = Field(
        description="Output columns; each aggregate x also has x_se, x_ci_low, x_ci_high."
    )
    rows: list[list[Any]] = Field(description="Noisy rows, in the order of `columns`.")
    epsilon_spent: float = Field(description="ε charged for this release (0 when cached).")
    delta_spent: float = Field(description="δ charged (private keys only; 0 when cached).")
    budget_remaining: dict[str, Any] = Field(
        description="The project's and the member's budget left after this release."
    )
    bounds: dict[str, Any] = Field(
        description="Contribution bounds applied: rows and groups per person, value clamps, "
        "grids, public and private keys."
    )
    mechanisms: dict[str, Any] = Field(
        description="Each noised piece: mechanism, scale, sensitivity and its ε share."
    )
    composition: str = Field(description="How this release's ε and δ add to the budget.")
    release_id: str = Field(description="Identifier of the stored release.")
    cached: bool = Field(description="True when the same query was answered before (no cost).")
    notes: list[str] = Field(
        description="What the release withheld or adjusted (e.g. averages over counts near 0)."
    )
    interval_note: str = Field(
        description="95% intervals cover the noise added for privacy, not the bias from the "
        "contribution bounds (see bounds)."
    )
