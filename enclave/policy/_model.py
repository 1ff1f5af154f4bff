"""Steward policies as frozen, validated value types.

A *dataset policy* says which tables hold people (and in which column), what role each
column plays, the bounds of every value that may be summed or averaged, the public key
sets, and the default contribution bounds. A *project policy* says who may query what,
with how much privacy budget.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Literal, Protocol, TypeVar

__all__ = [
    "ColumnPolicy",
    "ContributionPolicy",
    "DatasetPolicy",
    "KeySet",
    "Limits",
    "PrivacyCeiling",
    "ProjectPolicy",
    "PublicKeyExpr",
    "Role",
    "TablePolicy",
]

#: identifier: never selected or grouped (only COUNT(DISTINCT person col), joins on it)
#: key: may be grouped (public if it names a key set, otherwise private/thresholded)
#: numeric: may be aggregated within [lower, upper] and used in filters
#: date: may be filtered and truncated/extracted into keys
#: code: may be filtered (LIKE, IN, substr) and grouped as a private key
#: join: may be used only to join a public table
Role = Literal["identifier", "key", "numeric", "date", "code", "join"]


class _Named(Protocol):
    @property
    def name(self) -> str: ...


_N = TypeVar("_N", bound=_Named)


def _named(items: Iterable[_N], name: str) -> _N | None:
    """The first of ``items`` called ``name``, or None."""
    return next((item for item in items if item.name == name), None)


@dataclass(frozen=True)
class ColumnPolicy:
    name: str
    role: Role
    lower: float | None = None
    upper: float | None = None
    key_set: str | None = None
    #: a numeric column that holds whole numbers in [lower, upper] only (its public domain)
    integer: bool = False
    #: a code column whose code categories (a code's first characters) are public: the
    #: name of the key set that lists them
    public_codes: str | None = None
    #: ``clamp = "auto"``: ``upper`` is the widest bound, and each query that sums or
    #: averages the column clamps it at a bound chosen privately from its data (at most
    #: ``upper``; ``gateway.plan.clamps``)
    auto_clamp: bool = False


@dataclass(frozen=True)
class TablePolicy:
    name: str
    protected: bool
    person_column: str | None
    columns: tuple[ColumnPolicy, ...]
    #: one row per person by construction (a query's patient-level table)
    one_row_per_person: bool = False

    def column(self, name: str) -> ColumnPolicy | None:
        return _named(self.columns, name)


@dataclass(frozen=True)
class KeySet:
    """A public list of group keys: every value is returned, present in the data or not."""

    name: str
    values: tuple[str | int, ...]


@dataclass(frozen=True)
class PublicKeyExpr:
    """A key expression whose values form a public key set, e.g. a week of ``visit_date``.

    ``expression`` is SQL (DuckDB dialect) over one table's columns; the gateway compares
    normalised SQL text.
    """

    table: str
    expression: str
    key_set: str


@dataclass(frozen=True)
class ContributionPolicy:
    """Default contribution bounds. ``"auto"`` means: chosen privately per query."""

    rows_per_person: int | Literal["auto"] = "auto"
    groups_per_person: int = 4
    auto_epsilon_share: float = 0.1
    auto_max_rows: int = 512


@dataclass(frozen=True)
class Limits:
    max_sql_length: int = 20_000
    max_in_list: int = 200
    max_depth: int = 40
    max_joins: int = 4
    max_aggregates: int = 16
    max_group_keys: int = 4
    max_private_groups: int = 10_000
    #: joined rows one person may yield (each event table gets ⌊F^(1/k)⌋ rows per person)
    max_join_rows_per_person: int = 262_144
    #: per-group quantile releases a query may ask for (groups × quantile aggregates)
    max_quantile_groups: int = 1_000


@dataclass(frozen=True)
class PrivacyCeiling:
    """The most ε and δ that everything the dataset serves may spend on one person.

    One person's total privacy loss is the sum, under basic composition, of what every
    project over the dataset may spend (the standing indicators' project included). Approvals,
    top-ups and policy files that would push that sum past the ceiling are refused.
    ``None`` means no ceiling.

    >>> PrivacyCeiling(max_total_epsilon=400.0).max_total_delta is None
    True
    """

    max_total_epsilon: float | None = None
    max_total_delta: float | None = None


@dataclass(frozen=True)
class DatasetPolicy:
    name: str
    tables: tuple[TablePolicy, ...]
    key_sets: tuple[KeySet, ...] = ()
    public_key_exprs: tuple[PublicKeyExpr, ...] = ()
    contribution: ContributionPolicy = field(default_factory=ContributionPolicy)
    limits: Limits = field(default_factory=Limits)
    privacy: PrivacyCeiling = field(default_factory=PrivacyCeiling)
    #: key sets the gateway derived from public domains (``gateway.plan.domains``), by
    #: name; filled as queries are planned and shared with ``dataclasses.replace`` copies
    derived_key_sets: dict[str, KeySet] = field(default_factory=dict, compare=False, repr=False)

    def table(self, name: str) -> TablePolicy | None:
        return _named(self.tables, name)

    def key_set(self, name: str) -> KeySet | None:
        return _named(self.key_sets, name) or self.derived_key_sets.get(name)


@dataclass(frozen=True)
class ProjectPolicy:
    id: str
    title: str
    members: tuple[str, ...]
    #: table -> allowed columns (``("*",)`` for all columns the dataset policy lists)
    tables: tuple[tuple[str, tuple[str, ...]], ...]
    epsilon: float
    delta: float = 0.0
    max_epsilon_per_query: float = 1.0
    member_epsilon: float | None = None
    review_epsilon: float | None = None
    status: Literal["active", "suspended"] = "active"
    #: how releases compose: "pure" ε-DP (basic composition) or "zcdp" (ρ adds up; the
    #: budget is shown as (ε, δ) at δ; see ``enclave.policy._accounting``)
    accounting: Literal["pure", "zcdp"] = "pure"

    def allowed_columns(self, table: str) -> tuple[str, ...] | None:
        for name, cols in self.tables:
            if name == table:
                return cols
        return None
