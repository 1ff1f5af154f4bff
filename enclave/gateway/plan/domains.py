"""Public domains of columns, and the image of a key expression over them.

A column has a *finite public domain* when the policy lists every value it may hold:

* a key column with a key set (``region``: the 22 regions);
* a date column with ``lower``/``upper`` (``visit_date``: every day from 2023-01-01 to
  2024-12-31);
* a numeric column declared ``integer = true`` (``birth_year``: 1900, 1901, …, 2026);
* a code column with ``public_codes = "<key set>"``: its code *categories* (a code's
  first characters, e.g. ``E11`` of ``E11.9``) are public, not its full codes.

A group key that is a function of such columns only is public: its key set is the
**image** of the product of their domains under the key, computed here without any data
— the key is evaluated by an in-memory DuckDB over a generated table of every domain
combination (at most ``MAX_DOMAIN_ROWS`` rows; no warehouse is attached, external access
is off). For a code column, each category stands for the codes that start with it (the
category followed by a few sample suffixes); the key must give the same value for every
one of them, i.e. depend on the code through its category only (``substr(icd10, 1, 3)``,
``left(icd10, 1)``, ``icd10 LIKE 'E11%'`` inside a CASE) — else it stays private.
The values are the key's released form (``plan.keys.key_sql``): dates as ``YYYY-MM-DD``,
whole numbers as integers, text as text. NULL is never a public value (rows whose key is
NULL are dropped, like rows whose key is outside the image); an image with a non-whole
number, a boolean, no value at all or more than ``limits.max_private_groups`` values
leaves the key private.

>>> from enclave.policy import load_dataset_policy
>>> from enclave.settings import REPO_POLICIES
>>> ds = load_dataset_policy(REPO_POLICIES / "dataset.toml")
>>> year = column_domain(ds.table("claims"), "visit_date", ds)
>>> born = column_domain(ds.table("persons"), "birth_year", ds)
>>> year.describe(), born.describe(), born.size
('2023-01-01..2024-12-31', '1900..2026', 127)
>>> image("CAST(year(v0) AS DOUBLE) - CAST(v1 AS DOUBLE)", (year, born), 10_000)[:3]
(-3, -2, -1)
>>> image("substr(v0, 1, 1)", (column_domain(ds.table("claims"), "icd10", ds),), 100)[:4]
('A', 'B', 'C', 'D')
>>> image("v0", (column_domain(ds.table("claims"), "icd10", ds),), 10_000) is None
True
"""

from __future__ import annotations

import datetime as dt
import functools
import math
import threading
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Literal

import duckdb
import sqlglot
import sqlglot.expressions as exp

from enclave.errors import QueryRejected
from enclave.policy import DatasetPolicy, TablePolicy
from enclave.schema import TABLES

__all__ = ["CODE_SUFFIXES", "MAX_DOMAIN_ROWS", "Domain", "column_domain", "image", "image_of"]

#: the most domain combinations a key's image is computed over (else the key is private)
MAX_DOMAIN_ROWS = 1_000_000
#: what may follow a code category in a code (ICD-10: ``E11``, ``E11.9``, ``E119``,
#: ``E11.65``, ``S72.001A``…): a key must give one value for all of them
CODE_SUFFIXES = ("", ".0", ".9", ".65", "0", "9", "65", ".001A", "X", "-")
#: seconds the image of one key may take (the evaluation is interrupted after that)
IMAGE_SECONDS = 10.0
_ROLE_SQL = {"date": "DATE", "numeric": "DOUBLE", "key": "VARCHAR", "code": "VARCHAR"}

Kind = Literal["keys", "days", "integers", "codes"]
Value = str | int


@dataclass(frozen=True)
class Domain:
    """Every value one column may hold, as the policy states it (no data)."""

    kind: Kind
    sql_type: str
    values: tuple[Value, ...] = ()  # keys: the key set; codes: the categories
    lower: int = 0  # days: ordinals; integers: the bounds
    upper: int = 0
    source: str = ""  # the key set named by the policy

    @property
    def size(self) -> int:
        """How many rows the domain adds to the product."""
        if self.kind in ("days", "integers"):
            return self.upper - self.lower + 1
        return len(self.values) * (len(CODE_SUFFIXES) if self.kind == "codes" else 1)

    def describe(self) -> str:
        """The domain in words, for the key set's description and ``enclave schema``."""
        if self.kind == "days":
            return f"{_day(self.lower)}..{_day(self.upper)}"
        if self.kind == "integers":
            return f"{self.lower}..{self.upper}"
        what = "categories of " if self.kind == "codes" else ""
        return f"{what}{self.source} ({len(self.values)})"

    def rows_sql(self, var: str) -> str:
        """A relation of the domain's rows: column ``var`` (and ``var__category``)."""
        if self.kind == "days":
            lo, hi = _day(self.lower), _day(self.upper)
            return (
                f"SELECT CAST(d AS DATE) AS {var} FROM range(DATE '{lo}', "
                f"DATE '{hi}' + INTERVAL 1 DAY, INTERVAL 1 DAY) AS t(d)"
            )
        if self.kind == "integers":
            return (
                f"SELECT CAST(i AS {self.sql_type}) AS {var} "
                f"FROM range({self.lower}, {self.upper + 1}) AS t(i)"
            )
        rows = f"(VALUES {', '.join(f'({_literal(v)})' for v in self.values)}) AS a(v)"
        if self.kind == "keys":
            return f"SELECT CAST(v AS {self.sql_type}) AS {var} FROM {rows}"
        suffixes = ", ".join(f"({_literal(s)})" for s in CODE_SUFFIXES)
        return (
            f"SELECT CAST(v || s AS VARCHAR) AS {var}, v AS {var}__category "
            f"FROM {rows}, (VALUES {suffixes}) AS b(s)"
        )


def _day(ordinal: int) -> str:
    """A day number as an ISO date; a day outside the years 1–9999 is refused (no DATE
    can hold it, so its key cannot be listed).

    >>> _day(1), _day(dt.date.max.toordinal())
    ('0001-01-01', '9999-12-31')
    """
    if not 1 <= ordinal <= dt.date.max.toordinal():
        raise QueryRejected(
            "A date key falls outside the years 1-9999; keep date arithmetic within the calendar."
        )
    return dt.date.fromordinal(ordinal).isoformat()


def _literal(value: Value) -> str:
    if isinstance(value, int):
        return str(int(value))
    return "'" + str(value).replace("'", "''") + "'"


def _sql_type(table: TablePolicy, column: str, role: str) -> str:
    for name, sql_type in TABLES.get(table.name, ()):
        if name == column:
            return sql_type.upper()
    return _ROLE_SQL.get(role, "VARCHAR")


def column_domain(table: TablePolicy | None, column: str, ds: DatasetPolicy) -> Domain | None:
    """The public domain of ``table.column`` (None when the policy gives it none)."""
    col = table.column(column) if table is not None else None
    if table is None or col is None:
        return None
    sql_type = _sql_type(table, column, col.role)
    named = col.key_set if col.role == "key" else col.public_codes if col.role == "code" else None
    if named is not None:
        ks = ds.key_set(named)
        kind: Kind = "keys" if col.role == "key" else "codes"
        return None if ks is None else Domain(kind, sql_type, tuple(ks.values), source=named)
    if col.lower is None or col.upper is None:
        return None
    if col.role == "date":
        return Domain("days", "DATE", lower=int(col.lower), upper=int(col.upper))
    if col.role == "numeric" and col.integer:
        return Domain("integers", sql_type, lower=int(col.lower), upper=int(col.upper))
    return None


def _value(v: Any) -> Value | None:
    """One image value in its released form; ValueError when it cannot be a public key."""
    if v is None:
        return None
    if isinstance(v, bool):
        raise ValueError("boolean keys stay private")
    if isinstance(v, dt.datetime):
        return v.date().isoformat()
    if isinstance(v, dt.date):
        return v.isoformat()
    if isinstance(v, int | str):
        return v
    if isinstance(v, float | Decimal) and math.isfinite(v) and v == int(v):
        return int(v)
    raise ValueError("not a whole number, a date or text")


def _query(
    expr_sql: str, domains: tuple[Domain, ...], where_sql: str | None
) -> tuple[str, str | None]:
    """The image query, and (with code columns) the query counting non-category keys."""
    ctes = [f"d{i} AS ({d.rows_sql(f'v{i}')})" for i, d in enumerate(domains)]
    product = ", ".join(f"d{i}" for i in range(len(domains)))
    where = "" if where_sql is None else f" WHERE ({where_sql})"
    head = f"WITH {', '.join(ctes)}, img AS (SELECT ({expr_sql}) AS k, * FROM {product}{where}) "
    if not any(d.kind == "codes" for d in domains):
        return head + "SELECT DISTINCT k FROM img", None
    group = ", ".join(
        f"v{i}__category" if d.kind == "codes" else f"v{i}" for i, d in enumerate(domains)
    )
    varying = (
        f"SELECT count(*) FROM (SELECT 1 FROM img GROUP BY {group} HAVING "
        "count(DISTINCT k) + max(CASE WHEN k IS NULL THEN 1 ELSE 0 END) > 1)"
    )
    return head + "SELECT DISTINCT k FROM img", head + varying


def _run(sql: str, varying: str | None) -> list[Any] | None:
    con = duckdb.connect(
        ":memory:",
        config={"enable_external_access": False, "threads": 1, "memory_limit": "512MB"},
    )
    timer = threading.Timer(IMAGE_SECONDS, con.interrupt)
    timer.start()
    try:
        if varying is not None and con.execute(varying).fetchone() != (0,):
            return None
        return [row[0] for row in con.execute(sql).fetchall()]
    except duckdb.Error:
        return None
    finally:
        timer.cancel()
        con.close()


@functools.lru_cache(maxsize=64)
def image(
    expr_sql: str, domains: tuple[Domain, ...], max_keys: int, where_sql: str | None = None
) -> tuple[Value, ...] | None:
    """The sorted public values of ``expr_sql`` (DuckDB SQL over columns ``v0``, ``v1``…,
    column ``v<i>`` ranging over ``domains[i]``) on the combinations where ``where_sql``
    holds, or None when the key must stay private."""
    rows = math.prod(d.size for d in domains)
    if not domains or rows > MAX_DOMAIN_ROWS:
        return None
    found = _run(*_query(expr_sql, domains, where_sql))
    if found is None:
        return None
    try:
        values = {v for v in map(_value, found) if v is not None}
    except ValueError:
        return None
    if not values or len(values) > max_keys or len({type(v) for v in values}) > 1:
        return None
    return tuple(sorted(values, key=lambda v: (str(type(v)), v)))


def image_of(sql: str, ds: DatasetPolicy) -> tuple[Value, ...] | None:
    """The public key set of ``sql``, an expression over ``table.column`` names (the
    examples of ``enclave schema``); None when a column has no public domain.

    >>> from enclave.policy import load_dataset_policy
    >>> from enclave.settings import REPO_POLICIES
    >>> image_of("quarter(claims.visit_date)", load_dataset_policy(REPO_POLICIES / "dataset.toml"))
    (1, 2, 3, 4)
    """
    domains: list[Domain] = []
    names: dict[tuple[str, str], int] = {}

    def var(node: exp.Expression) -> exp.Expression:
        if not isinstance(node, exp.Column):
            return node
        ref = (node.table.lower(), node.name.lower())
        if ref not in names:
            domain = column_domain(ds.table(ref[0]), ref[1], ds)
            if domain is None:
                raise LookupError(ref[1])
            names[ref] = len(domains)
            domains.append(domain)
        return exp.column(f"v{names[ref]}")

    try:
        expr = exp.Try(this=sqlglot.parse_one(sql, dialect="duckdb").transform(var))
    except LookupError:
        return None
    return image(expr.sql(dialect="duckdb"), tuple(domains), ds.limits.max_private_groups)
