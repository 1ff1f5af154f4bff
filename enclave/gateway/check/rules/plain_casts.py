"""A CAST is ``CAST(x AS <type>)`` and nothing more: no FORMAT, no DEFAULT … ON ERROR.

sqlglot keeps extra cast arguments (``CAST(x AS VARCHAR FORMAT 'YYYY')``,
``CAST(x AS DATE DEFAULT NULL ON CONVERSION ERROR)``) and writes them back out, where
DuckDB refuses or evaluates them per row. They are refused here, on the whole tree right
after parsing, with a message that names the rule. Which target types are allowed is
decided later by ``total_expressions``; ``TRY_CAST`` is refused there too.

>>> import sqlglot
>>> sql = "SELECT COUNT(*) FROM claims WHERE CAST(amount AS VARCHAR FORMAT 'x') = 'a'"
>>> plain_casts(sqlglot.parse_one(sql, read="duckdb"))  # doctest: +ELLIPSIS
Traceback (most recent call last):
...
enclave.errors.QueryRejected: CAST takes one value and a type only, ...
"""

from __future__ import annotations

from typing import Any, TypeVar

from sqlglot import exp

from enclave.errors import QueryRejected

__all__ = ["plain_casts"]

E = TypeVar("E", bound=exp.Expression)

#: ``safe`` marks TRY_CAST (refused with its own message by ``total_expressions``)
_CAST_ARGS = frozenset({"this", "to", "safe"})


def plain_casts(tree: E, cat: Any = None) -> E:
    """Refuse a cast with an argument beyond the value and the type.

    ``cat`` is unused; it keeps the ``rule(select, catalog)`` shape of ``check_shape``.
    """
    for node in tree.find_all(exp.Cast):
        extra = [k for k, v in node.args.items() if v not in (None, False, [])]
        if any(k not in _CAST_ARGS for k in extra):
            raise QueryRejected(
                "CAST takes one value and a type only, CAST(x AS DOUBLE) or "
                "CAST(x AS VARCHAR); FORMAT, DEFAULT … ON CONVERSION ERROR and other "
                "cast options are not supported."
            )
    return tree
