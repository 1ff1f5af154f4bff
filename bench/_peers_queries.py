"""The gateway workload as the peer libraries see it: one flat table and a neutral spec.

The peers (SmartNoise SQL, Tumult Analytics, OpenDP's Polars API) read one table of claim
rows with their person's attributes already joined (``PREPARED_SQL``: none of them joins a
private table the way the gateway does), plus the derived columns a user of those libraries
would add once: the ISO week, the age band of ``bench.gateway.AGE`` and the ICD-10 category.
Each query of ``bench.gateway.WORKLOAD`` is stated once here (keys, aggregate, filters);
each library module renders it in that library's own idiom. Bounds and key sets are not
written here: the driver reads them from ``policies/dataset.toml`` and sends them with the
spec. Standard library only: the peer virtualenvs import this module too.

>>> PEER_QUERIES["weekly influenza"].where[0]
Cond(column='icd10', op='prefix', values=('J09', 'J10', 'J11'))
>>> render_sql_where(PEER_QUERIES["inpatient LOS by region"].where)
"setting = 'inpatient'"
>>> render_sql_where((Cond("icd10", "prefix", ("J09", "J10")),), like=True)
"(icd10 LIKE 'J09%' OR icd10 LIKE 'J10%')"
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

__all__ = [
    "PEER_QUERIES",
    "PREPARED_COLUMNS",
    "AggKind",
    "Cond",
    "PeerQuery",
    "Refused",
    "Unsupported",
    "prepared_sql",
    "render_sql_where",
]

AggKind = Literal["count", "count_distinct", "sum", "mean"]

#: the prepared table's columns and the policy column each one is bounded or keyed by
PREPARED_COLUMNS: dict[str, str] = {
    "person_id": "claims.person_id",
    "region": "persons.region",
    "sex": "persons.sex",
    "insurance_category": "persons.insurance_category",
    "age_band": "age_bands",
    "setting": "claims.setting",
    "icd10": "claims.icd10",
    "icd10_cat": "claims.icd10",
    "amount": "claims.amount",
    "los_days": "claims.los_days",
    "week": "weeks",
}


class Unsupported(Exception):
    """A peer library cannot express a query; the message says what it lacks."""


class Refused(Exception):
    """A peer library declines a query it can express (its own limit); the message says why."""


@dataclass(frozen=True)
class Cond:
    """One conjunct of a WHERE: ``prefix`` (any of ``values`` starts the text), ``eq``, ``gt``."""

    column: str
    op: Literal["prefix", "eq", "gt"]
    values: tuple[str | float, ...]


@dataclass(frozen=True)
class PeerQuery:
    """A workload query in neutral form.

    ``key_sets`` names the policy key set of each key column (public keys, returned in
    full); ``person_keys`` is true when every key is an attribute of the person, so one
    person touches one group. ``column`` is what ``sum``/``mean``/``count_distinct`` read.
    """

    name: str
    keys: tuple[str, ...]
    key_sets: tuple[str, ...]
    agg: AggKind
    column: str | None = None
    where: tuple[Cond, ...] = ()
    person_keys: bool = False


def _queries() -> dict[str, PeerQuery]:
    flu = Cond("icd10", "prefix", ("J09", "J10", "J11"))
    qs = [
        PeerQuery("claims per region (join)", ("region",), ("regions",), "count", None, (), True),
        PeerQuery(
            "diabetic patients per region",
            ("region",),
            ("regions",),
            "count_distinct",
            "person_id",
            (Cond("icd10", "prefix", ("E11",)),),
            True,
        ),
        PeerQuery("total amount per setting", ("setting",), ("settings",), "sum", "amount"),
        PeerQuery(
            "avg amount per insurance cat.",
            ("insurance_category",),
            ("insurance_categories",),
            "mean",
            "amount",
            (),
            True,
        ),
        PeerQuery("weekly influenza", ("week",), ("weeks",), "count", None, (flu,)),
        PeerQuery(
            "claims by sex x age band",
            ("sex", "age_band"),
            ("sexes", "age_bands"),
            "count",
            None,
            (),
            True,
        ),
        PeerQuery(
            "inpatient LOS by region",
            ("region",),
            ("regions",),
            "mean",
            "los_days",
            (Cond("setting", "eq", ("inpatient",)),),
            True,
        ),
        PeerQuery(
            "high-cost claims per setting",
            ("setting",),
            ("settings",),
            "count",
            None,
            (Cond("amount", "gt", (10000,)),),
        ),
    ]
    return {q.name: q for q in qs}


PEER_QUERIES: dict[str, PeerQuery] = _queries()


def _literal(value: str | float) -> str:
    return f"'{value}'" if isinstance(value, str) else repr(value)


def _render(cond: Cond, like: bool) -> str:
    if cond.op == "eq":
        return f"{cond.column} = {_literal(cond.values[0])}"
    if cond.op == "gt":
        return f"{cond.column} > {_literal(cond.values[0])}"
    if like:
        parts = [f"{cond.column} LIKE '{v}%'" for v in cond.values]
        return parts[0] if len(parts) == 1 else "(" + " OR ".join(parts) + ")"
    # no LIKE: the 3-character ICD-10 category column stands for the prefix
    cats = ", ".join(_literal(v) for v in cond.values)
    return f"icd10_cat = {cats}" if len(cond.values) == 1 else f"icd10_cat IN ({cats})"


def render_sql_where(where: tuple[Cond, ...], *, like: bool = False) -> str:
    """The conjuncts as SQL text; without ``like``, prefixes read ``icd10_cat``."""
    return " AND ".join(_render(c, like) for c in where)


def prepared_sql(age_case: str) -> str:
    """DuckDB SELECT of the prepared table from the warehouse (``age_case`` over ``p``)."""
    return (
        "SELECT c.person_id, p.region, p.sex, p.insurance_category, "
        f"{age_case} AS age_band, c.setting, c.icd10, substr(c.icd10, 1, 3) AS icd10_cat, "
        "c.amount, CAST(c.los_days AS DOUBLE) AS los_days, "
        "strftime(date_trunc('week', c.visit_date), '%Y-%m-%d') AS week "
        "FROM claims c JOIN persons p ON p.person_id = c.person_id"
    )
