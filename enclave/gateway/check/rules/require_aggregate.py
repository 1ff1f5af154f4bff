"""SELECT list: group keys and aggregates only; GROUP BY resolved; every output named.

* GROUP BY ordinals (``GROUP BY 1``), output aliases and ``GROUP BY ALL`` are replaced by
  the expressions they stand for;
* every SELECT item is either equal to a GROUP BY expression (a key) or one aggregate
  (not nested, not mixed into arithmetic); every GROUP BY expression is selected;
* at least one aggregate; no aggregate in WHERE, JOIN … ON or GROUP BY;
* every item gets an alias: keys their column name (or ``<function>_<column>``),
  aggregates ``count``, ``sum_amount``, ``count_distinct_person_id``, …

>>> import sqlglot
>>> from enclave.gateway.check.catalog import Catalog
>>> sql = "SELECT c.setting, COUNT(*), SUM(c.amount) FROM claims c GROUP BY 1"
>>> require_aggregate(sqlglot.parse_one(sql), Catalog.example()).sql()
'SELECT c.setting AS setting, COUNT(*) AS count, SUM(c.amount) AS sum_amount FROM claims AS c GROUP BY c.setting'
"""

from __future__ import annotations

from typing import Any

from sqlglot import exp

from enclave.errors import QueryRejected
from enclave.gateway.check.catalog import Catalog
from enclave.gateway.check.rules.allowed_functions import AGGREGATES

__all__ = ["RESERVED_SUFFIXES", "aggregate_alias", "is_aggregate", "require_aggregate"]

RESERVED_SUFFIXES = ("_se", "_ci_low", "_ci_high")
_ROWS = (
    "returns values of single rows; every selected expression must be a GROUP BY key or "
    "an aggregate (COUNT, SUM, AVG, …)."
)


def is_aggregate(node: exp.Expression) -> bool:
    """True for an allow-listed aggregate call (including … WITHIN GROUP (ORDER BY …))."""
    return type(node) in AGGREGATES or isinstance(node, exp.WithinGroup)


def _has_aggregate(node: exp.Expression) -> bool:
    return any(isinstance(n, (exp.AggFunc, exp.WithinGroup)) for n in node.walk())


def _first_column(node: exp.Expression) -> str:
    col = node.find(exp.Column)
    return str(col.name).lower() if col is not None else ""


def aggregate_alias(node: exp.Expression) -> str:
    """A default output name: ``count``, ``sum_amount``, ``count_distinct_person_id``, …

    >>> import sqlglot
    >>> aggregate_alias(sqlglot.parse_one("COUNT(DISTINCT c.person_id)"))
    'count_distinct_person_id'
    """
    inner: Any = node.this if isinstance(node, exp.WithinGroup) else node
    name = "quantile" if isinstance(inner, exp.PercentileCont) else str(inner.sql_name()).lower()
    if isinstance(inner, exp.Count) and isinstance(inner.this, exp.Distinct):
        name = "count_distinct"
    column = _first_column(node)
    return f"{name}_{column}" if column else name


def _key_alias(node: exp.Expression) -> str:
    if isinstance(node, exp.Column):
        return str(node.name).lower()
    column = _first_column(node)
    prefix = node.sql_name().lower() if isinstance(node, exp.Func) else "key"
    return f"{prefix}_{column}" if column else prefix


def _resolve_group(select: exp.Select) -> list[exp.Expression]:
    group = select.args.get("group")
    items = [e.this if isinstance(e, exp.Alias) else e for e in select.expressions]
    if group is None:
        return []
    if group.args.get("all"):
        return [i.copy() for i in items if not _has_aggregate(i)]
    aliases = {e.alias.lower(): e.this for e in select.expressions if isinstance(e, exp.Alias)}
    keys: list[exp.Expression] = []
    for item in group.expressions:
        if isinstance(item, exp.Literal) and not item.is_string:
            if not item.name.isdigit() or not 1 <= int(item.name) <= len(items):
                raise QueryRejected("GROUP BY position is out of range; use 1 … number of items.")
            item = items[int(item.name) - 1]
        elif isinstance(item, exp.Column) and not item.table and item.name.lower() in aliases:
            item = aliases[item.name.lower()]
        if _has_aggregate(item):
            raise QueryRejected("GROUP BY may not use aggregates; group by columns or expressions.")
        if not any(True for _ in item.find_all(exp.Column)):
            raise QueryRejected("GROUP BY needs expressions over columns, not constants.")
        keys.append(item.copy())
    return keys


def _no_aggregates_in(select: exp.Select) -> None:
    places = [select.args.get("where")] + [j.args.get("on") for j in select.args.get("joins") or ()]
    for place in places:
        if place is not None and _has_aggregate(place):
            raise QueryRejected(
                "Aggregates are not allowed in WHERE or JOIN … ON; filter groups with HAVING."
            )


def _unique(alias: str, taken: set[str]) -> str:
    name, n = alias, 2
    while name in taken:
        name, n = f"{alias}_{n}", n + 1
    return name


def require_aggregate(select: exp.Select, cat: Catalog) -> exp.Select:
    """Resolve GROUP BY, check keys and aggregates, and name every output column."""
    del cat
    _no_aggregates_in(select)
    keys = _resolve_group(select)
    key_sql = {k.sql(dialect="duckdb") for k in keys}
    user = [e.alias.lower() for e in select.expressions if isinstance(e, exp.Alias)]
    if len(set(user)) != len(user):
        raise QueryRejected("Each output column needs its own name; two aliases are the same.")
    if any(a.endswith(RESERVED_SUFFIXES) for a in user):
        raise QueryRejected("Aliases may not end in _se, _ci_low or _ci_high (error-bar columns).")
    taken = set(user)
    items: list[exp.Expr] = []
    selected: set[str] = set()
    aggregates = 0
    for item in select.expressions:
        expr = item.this if isinstance(item, exp.Alias) else item
        alias = item.alias.lower() if isinstance(item, exp.Alias) else None
        if _has_aggregate(expr):
            if not is_aggregate(expr) or any(_has_aggregate(a) for a in expr.iter_expressions()):
                raise QueryRejected(
                    "An aggregate may not be nested in another or mixed into arithmetic "
                    "(e.g. SUM(a) / COUNT(*)); select each aggregate on its own and compute "
                    "the ratio from the released columns."
                )
            aggregates += 1
            default = aggregate_alias(expr)
        else:
            text = expr.sql(dialect="duckdb")
            if text not in key_sql:
                what = "SELECT without GROUP BY" if not keys else "A non-key SELECT item"
                raise QueryRejected(f"{what} {_ROWS}")
            selected.add(text)
            default = _key_alias(expr)
        if alias is None:
            alias = _unique(default, taken)
            taken.add(alias)
        items.append(exp.alias_(expr, alias, copy=False))
    if aggregates == 0:
        raise QueryRejected(
            "The query has no aggregate; add one such as COUNT(*) or COUNT(DISTINCT person_id)."
        )
    if key_sql - selected:
        raise QueryRejected("Every GROUP BY expression must also be selected (as a key column).")
    select.set("expressions", items)
    if keys:
        select.set("group", exp.Group(expressions=keys))
    return select
