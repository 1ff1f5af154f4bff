"""Every number the researcher's expressions compute with is a DOUBLE, so nothing overflows.

DuckDB raises on INTEGER overflow (``2147483647 + 1``, ``los_days * 100000``,
``ABS(-2147483647 - 1)``), and it does so only for the rows that reach the expression —
inside a CASE branch that is a yes/no about one person. DOUBLE arithmetic saturates to
±inf instead of raising. So every integer-valued leaf — integer columns, integer number
literals and decimal literals (DECIMAL arithmetic overflows too), and functions that return
integers (date parts, ``extract``, ``length``) — is cast to DOUBLE wherever it sits, with
two exceptions that cannot overflow: an operand compared with ``= <> < <= > >=``,
``IN`` or ``BETWEEN`` (no arithmetic happens there), and a bare column that is a whole
select item or group key (its values are shown as stored). Literal *arguments* that must
stay integers (``substr`` positions, ``left`` lengths, ``ROUND`` digits, the level of
``QUANTILE_CONT``) are typed as small literals by ``total_expressions`` and kept.

>>> import sqlglot
>>> from enclave.gateway.check.catalog import Catalog
>>> sql = "SELECT COUNT(CASE WHEN c.los_days > 3 THEN 2147483647 + 1 END) AS n FROM claims c"
>>> promote_numbers(sqlglot.parse_one(sql), Catalog.example()).sql()
'SELECT COUNT(CASE WHEN c.los_days > 3 THEN CAST(2147483647 AS DOUBLE) + CAST(1 AS DOUBLE) END) AS n FROM claims AS c'
>>> sql = "SELECT SUM(c.amount) AS s FROM claims c WHERE ROUND(c.los_days, -1) > 5"
>>> promote_numbers(sqlglot.parse_one(sql), Catalog.example()).sql()
'SELECT SUM(c.amount) AS s FROM claims AS c WHERE ROUND(CAST(c.los_days AS DOUBLE), -1) > 5'
>>> sql = "SELECT SUM(LEAST(c.los_days, 100000) * 2) AS s FROM claims c"
>>> promote_numbers(sqlglot.parse_one(sql), Catalog.example()).sql()
'SELECT SUM(LEAST(CAST(c.los_days AS DOUBLE), CAST(100000 AS DOUBLE)) * CAST(2 AS DOUBLE)) AS s FROM claims AS c'
"""

from __future__ import annotations

from sqlglot import exp

from enclave.gateway.check.catalog import Catalog
from enclave.gateway.check.kinds import COMPARISONS
from enclave.gateway.check.names import sources
from enclave.gateway.check.rules.total_functions import DATE_PARTS

__all__ = ["promote_numbers"]

#: parents under which an operand is only compared, never computed with
_COMPARED = (*COMPARISONS, exp.In, exp.Between)
#: parents whose literal arguments are integer positions, lengths, digits or levels
_SLOTS = (exp.Substring, exp.Left, exp.Round, exp.PercentileCont, exp.Trim, exp.Anonymous)
_INTEGER_FUNCTIONS = (*DATE_PARTS, exp.Extract, exp.Length)
_INTEGER_ANONYMOUS = {"date_part", "isoyear"}
_DOUBLE = exp.DataType.build("DOUBLE")


def _parent(node: exp.Expr) -> exp.Expr | None:
    parent = node.parent
    while isinstance(parent, exp.Paren):
        parent = parent.parent
    return parent


def _integer_leaf(node: exp.Expression, tables: dict[str, str | None], cat: Catalog) -> bool:
    if isinstance(node, exp.Literal):
        return not node.is_string
    if isinstance(node, exp.Column):
        table = tables.get(node.table)
        return table is not None and cat.is_integer(table, node.name)
    if isinstance(node, exp.Anonymous):
        return str(node.name).lower() in _INTEGER_ANONYMOUS
    return isinstance(node, _INTEGER_FUNCTIONS)


def _keep(node: exp.Expression) -> bool:
    parent = _parent(node)
    if isinstance(parent, _COMPARED):
        return True
    if isinstance(node, exp.Column) and isinstance(parent, (exp.Alias, exp.Group, exp.Select)):
        return True
    if isinstance(node, exp.Literal):
        arg: exp.Expr = node
        while isinstance(parent, exp.Neg):  # a negative literal: -1
            arg, parent = parent, _parent(parent)
        if isinstance(parent, _SLOTS):
            return not (isinstance(parent, exp.Round) and parent.this is _outer(arg))
    return False


def _outer(node: exp.Expr) -> exp.Expr:
    while isinstance(node.parent, exp.Paren):
        node = node.parent
    return node


def _expressions(select: exp.Select) -> list[exp.Expression]:
    parts: list[exp.Expression] = list(select.expressions)
    for arg in ("where", "group"):
        if select.args.get(arg) is not None:
            parts.append(select.args[arg])
    parts += [j.args["on"] for j in select.args.get("joins") or () if j.args.get("on")]
    return parts


def promote_numbers(select: exp.Select, cat: Catalog) -> exp.Select:
    """Cast every integer-valued leaf that is computed with to DOUBLE (see module doc)."""
    tables = {a: s.table for a, s in sources(select, {}).items()}
    todo = [
        node
        for part in _expressions(select)
        for node in part.walk()
        if isinstance(node, exp.Expression) and _integer_leaf(node, tables, cat) and not _keep(node)
    ]
    for node in todo:
        node.replace(exp.cast(node.copy(), _DOUBLE))
    return select
