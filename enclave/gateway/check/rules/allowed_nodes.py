"""An allow-list of sqlglot node types and SELECT clauses: anything unknown is refused.

The walk visits every node of the tree (WITH bodies included). Known-dangerous shapes get
a specific message (subqueries, windows, set operations, parameters, …); any other node
type not listed here is refused generically, so new sqlglot node types fail closed.

>>> import sqlglot
>>> allowed_nodes(sqlglot.parse_one("SELECT COUNT(*) FROM claims WHERE amount > (SELECT 1)"))  # doctest: +ELLIPSIS
Traceback (most recent call last):
...
enclave.errors.QueryRejected: Subqueries are not supported ... WITH clause that filters rows.
"""

from __future__ import annotations

from sqlglot import exp

from enclave.errors import QueryRejected
from enclave.gateway.check.kinds import ARITHMETIC, COMPARISONS, LEAVES, LOGIC, TESTS
from enclave.gateway.check.names import RENAMING
from enclave.gateway.check.rules.allowed_functions import (
    AGGREGATES,
    ANONYMOUS_SCALARS,
    SCALARS,
    check_function,
)

__all__ = ["PREDICATES", "STRUCTURE", "allowed_nodes"]

#: literals, logic, comparisons and arithmetic: the core every clause may use
PREDICATES: tuple[type[exp.Expression], ...] = (
    *LEAVES,
    *LOGIC,
    *COMPARISONS,
    *TESTS,
    *ARITHMETIC,
)

#: non-function node types that may appear anywhere (positions are checked by later rules)
STRUCTURE: frozenset[type[exp.Expression]] = frozenset(
    {
        exp.Select,
        exp.From,
        exp.Join,
        exp.Where,
        exp.Group,
        exp.Having,
        exp.Order,
        exp.Ordered,
        exp.Limit,
        exp.With,
        exp.CTE,
        exp.Table,
        exp.TableAlias,
        exp.Alias,
        exp.Identifier,
        exp.Column,
        exp.Star,
        exp.Distinct,
        *PREDICATES,
        exp.Like,
        exp.ILike,
        exp.Escape,
        exp.DataType,
        exp.DataTypeParam,
        exp.Var,
        exp.WithinGroup,
        exp.Interval,  # a literal INTERVAL n DAY …, typed by ``total_expressions``
    }
)

_SPECIFIC: tuple[tuple[tuple[type, ...], str], ...] = (
    (
        (exp.Subquery, exp.Exists, exp.Any, exp.All, exp.Query),
        "Subqueries are not supported (they could return exact values); join the tables "
        "on person_id instead, or use a WITH clause that filters rows.",
    ),
    (
        (exp.Window, exp.WindowSpec, exp.Qualify),
        "Window functions (OVER, QUALIFY) are not supported; use GROUP BY with aggregates.",
    ),
    (
        (exp.Placeholder, exp.Parameter, exp.SessionParameter, exp.RawString),
        "Parameters are not supported; write the values into the query as literals.",
    ),
    (
        (exp.Lambda, exp.Struct, exp.Array, exp.Map, exp.PropertyEQ, exp.Bracket, exp.Dot),
        "Lists, structs, maps and lambdas are not supported; use scalar columns.",
    ),
    (
        (exp.Filter,),
        "FILTER clauses are not supported; put the condition in a CASE inside the "
        "aggregate, e.g. SUM(CASE WHEN setting = 'inpatient' THEN amount ELSE 0 END).",
    ),
    (
        (exp.Rollup, exp.Cube, exp.GroupingSets),
        "GROUPING SETS, ROLLUP and CUBE are not supported; run one query per grouping.",
    ),
    (
        (exp.Mod, exp.IntDiv),
        "% and // are not supported (they fail on zero); divide by a non-zero number "
        "literal with / instead.",
    ),
    (
        (exp.DPipe, exp.Concat),
        "Text concatenation is not supported; group by each column separately.",
    ),
    (
        (exp.TableSample, exp.Pivot, exp.Lateral, exp.Unnest, exp.Values),
        "FROM and JOIN accept table names only (no SAMPLE, PIVOT, LATERAL, UNNEST or VALUES).",
    ),
)

#: SELECT clauses a query may use (all others: INTO, QUALIFY, SAMPLE, WINDOW, …, refused)
_CLAUSES = frozenset(
    {"with_", "expressions", "from_", "joins", "where", "group", "having", "order", "limit"}
)
_CLAUSE_MESSAGES = {
    "distinct": "SELECT DISTINCT returns rows; select aggregates such as COUNT(*) or "
    "COUNT(DISTINCT person_id) with GROUP BY keys instead.",
    "offset": "OFFSET is not supported; use ORDER BY and LIMIT on the released rows.",
    "qualify": "Window functions (OVER, QUALIFY) are not supported; use GROUP BY with aggregates.",
    "sample": "SAMPLE is not supported; the answer is already private.",
    "windows": "Window functions (OVER, QUALIFY, WINDOW) are not supported; use GROUP BY "
    "with aggregates.",
}


def _clauses(select: exp.Select) -> None:
    for key, value in select.args.items():
        if key in _CLAUSES or value is None or value is False or value == []:
            continue
        raise QueryRejected(
            _CLAUSE_MESSAGES.get(
                key, f"The {key.rstrip('_').upper()} clause is not supported in queries."
            )
        )


def _star(node: exp.Star) -> None:
    parent = node.parent
    if isinstance(parent, exp.Count) and parent.this is node:
        return
    if isinstance(parent, exp.Select) and isinstance(parent.parent, exp.CTE):
        return
    raise QueryRejected(
        "SELECT * returns rows; select aggregates such as COUNT(*), SUM(amount) or "
        "COUNT(DISTINCT person_id), with GROUP BY keys if you need groups."
    )


def allowed_nodes(tree: exp.Expression) -> exp.Expression:
    """Walk the whole tree and refuse node types and clauses that are not allow-listed."""
    for node in tree.walk():
        kind = type(node)
        if isinstance(node, exp.Select):
            _clauses(node)
        if kind is exp.TableAlias and node.args.get("columns"):
            raise QueryRejected(RENAMING)
        if kind in STRUCTURE:
            if kind is exp.Star:
                _star(node)  # type: ignore[arg-type]
            continue
        if kind in AGGREGATES or kind in SCALARS:
            continue
        if kind is exp.Anonymous and str(node.name).lower() in ANONYMOUS_SCALARS:
            continue
        if isinstance(node, (exp.IgnoreNulls, exp.RespectNulls)) and node.this is not None:
            check_function(node.this)
        for kinds, message in _SPECIFIC:
            if isinstance(node, kinds):
                raise QueryRejected(message)
        if isinstance(node, exp.Func):
            check_function(node)
        raise QueryRejected(
            f"{kind.__name__} expressions are not supported; see docs/sql-reference.md for "
            "the SQL the gateway accepts."
        )
    return tree
