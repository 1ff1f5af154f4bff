"""HAVING, ORDER BY and LIMIT on the noisy rows only (post-processing costs no privacy).

The noisy rows are loaded into a private in-memory DuckDB (external access disabled) and
filtered/sorted there; the warehouse is never touched.

>>> from enclave.gateway.values import Plan
>>> p = Plan("", "__pid", (), (), 1, 1, 1.0, 0.0, {}, ("k", "n"), having_sql="n > 1",
...          order_sql="n DESC", limit=1)
>>> postprocess(p, [("a", 1), ("b", 5), ("c", 3)])
[('b', 5)]
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import duckdb
import pyarrow as pa

from enclave.errors import QueryRejected
from enclave.gateway.values import Plan

__all__ = ["postprocess"]


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def postprocess(plan: Plan, rows: Sequence[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    """Apply the plan's HAVING / ORDER BY / LIMIT to released rows."""
    if plan.having_sql is None and plan.order_sql is None and plan.limit is None:
        return list(rows)
    cols = list(plan.output_columns)
    data = {c: [r[i] for r in rows] for i, c in enumerate(cols)}
    released = pa.table(data) if rows else pa.table({c: pa.array([], pa.null()) for c in cols})
    sql = "SELECT * FROM released"
    if plan.having_sql:
        sql += f" WHERE {plan.having_sql}"
    if plan.order_sql:
        sql += f" ORDER BY {plan.order_sql}"
    if plan.limit is not None:
        sql += f" LIMIT {int(plan.limit)}"
    con = duckdb.connect(":memory:", config={"enable_external_access": False})
    try:
        con.register("released", released)
        out = con.execute(sql).fetchall()
    except duckdb.Error:
        raise QueryRejected(
            "HAVING and ORDER BY may use the output columns (keys and aggregate aliases) only."
        ) from None
    finally:
        con.close()
    return [tuple(r) for r in out]
