"""HAVING, ORDER BY and LIMIT refer to output columns only (they run on noisy rows).

Sub-expressions equal to a SELECT item (a key or an aggregate as written) and ORDER BY
positions are replaced by the item's alias; what remains may use only aliases, literals,
comparisons, AND/OR/NOT and arithmetic. LIMIT is a literal integer ≤ 10,000; OFFSET is
refused. The back half applies all three after noise.

>>> import sqlglot
>>> from enclave.gateway.check.catalog import Catalog
>>> sql = ("SELECT c.setting AS setting, COUNT(*) AS n FROM claims c GROUP BY c.setting "
...        "HAVING COUNT(*) > 100 ORDER BY 2 DESC LIMIT 3")
>>> post_aggregation(sqlglot.parse_one(sql), Catalog.example()).sql()
'SELECT c.setting AS setting, COUNT(*) AS n FROM claims AS c GROUP BY c.setting HAVING n > 100 ORDER BY n DESC LIMIT 3'
"""

from __future__ import annotations

from sqlglot import exp

from enclave.errors import QueryRejected
from enclave.gateway.check.catalog import Catalog, ValueType
from enclave.gateway.check.names import sources
from enclave.gateway.check.rules.allowed_nodes import PREDICATES
from enclave.gateway.check.rules.total_expressions import Typer

__all__ = ["MAX_LIMIT", "post_aggregation"]

MAX_LIMIT = 10_000
_ALLOWED: tuple[type[exp.Expression], ...] = (exp.Column, exp.Identifier, exp.Ordered, *PREDICATES)
_ONLY_OUTPUTS = (
    "HAVING and ORDER BY may use only the selected keys and aggregates (or their aliases), "
    "numbers and comparisons; they are applied to the released, noisy rows."
)


def _to_aliases(
    node: exp.Expression, outputs: dict[str, str], names: set[str], kinds: set[type]
) -> exp.Expression:

    def swap(n: exp.Expression) -> exp.Expression:
        if type(n) not in kinds or isinstance(n, exp.Ordered):
            return n
        text = n.sql(dialect="duckdb")
        return exp.column(outputs[text]) if text in outputs else n

    node = node.transform(swap, copy=False)
    for part in node.walk():
        if not isinstance(part, _ALLOWED):
            raise QueryRejected(_ONLY_OUTPUTS)
        if isinstance(part, exp.Column) and (part.table or part.name.lower() not in names):
            raise QueryRejected(_ONLY_OUTPUTS)
    return node


def _limit(select: exp.Select) -> None:
    limit = select.args.get("limit")
    if limit is None:
        return
    value = limit.expression
    if not (isinstance(value, exp.Literal) and not value.is_string and value.name.isdigit()):
        raise QueryRejected(f"LIMIT must be a literal integer between 0 and {MAX_LIMIT}.")
    if int(value.name) > MAX_LIMIT:
        raise QueryRejected(f"LIMIT must be a literal integer between 0 and {MAX_LIMIT}.")


def _typer(select: exp.Select, cat: Catalog) -> Typer:
    tables = {a: s.table for a, s in sources(select, {}).items()}
    keys = Typer(tables, cat)
    types: dict[str, ValueType] = {}
    for item in select.expressions:
        agg = isinstance(item.this, exp.AggFunc)
        types[item.alias.lower()] = "num" if agg else keys.type(item.this)
    return Typer({}, cat, types)


def post_aggregation(select: exp.Select, cat: Catalog) -> exp.Select:
    """Rewrite HAVING/ORDER BY to output aliases, type-check them; check LIMIT."""
    outputs = {e.this.sql(dialect="duckdb"): e.alias for e in select.expressions}
    names = {e.alias.lower() for e in select.expressions}
    kinds = {type(e.this) for e in select.expressions}
    aliases = [e.alias for e in select.expressions]
    having = select.args.get("having")
    if having is not None:
        having.set("this", _to_aliases(having.this, outputs, names, kinds))
        _typer(select, cat).want(having.this, "bool")
    order = select.args.get("order")
    if order is not None:
        for ordered in order.expressions:
            key = ordered.this
            if isinstance(key, exp.Literal) and not key.is_string:
                if not key.name.isdigit() or not 1 <= int(key.name) <= len(aliases):
                    raise QueryRejected("ORDER BY position is out of range.")
                ordered.set("this", exp.column(aliases[int(key.name) - 1]))
            else:
                ordered.set("this", _to_aliases(key, outputs, names, kinds))
                _typer(select, cat).type(ordered.this)
    _limit(select)
    return select
