"""The workload in Tumult Analytics: one Session, ``AddRowsWithID`` on the person column.

The prepared table is read by Spark ``local[2]``; a ``Session`` with a pure-DP budget of
ε × releases × queries protects it with ``AddRowsWithID("person_id")``. Each query is a
``QueryBuilder``: the WHERE as a Spark SQL filter (LIKE included), truncation like the
gateway's (``MaxRowsPerID`` = the rows bound; a distinct-person count keeps one group per
person with ``MaxGroupsPerID`` on its person-attribute key and counts distinct IDs),
``groupby`` on a ``KeySet`` of the policy's public key sets (every key released, no δ), and
``count`` / ``sum`` / ``average`` within the policy's bounds, each release at ε.
"""

from __future__ import annotations

import os
import sys
import tempfile
from collections.abc import Callable
from importlib.metadata import version as _dist_version
from typing import Any

from bench._peers_queries import Cond, Unsupported, render_sql_where

__all__ = ["close", "notes", "prepare", "setup", "version"]


def version() -> str:
    return f"tmlt.analytics {_dist_version('tmlt.analytics')} (pyspark {_dist_version('pyspark')})"


def setup(spec: dict[str, Any]) -> dict[str, Any]:
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    from pyspark.sql import SparkSession
    from tmlt.analytics import AddRowsWithID, PureDPBudget, Session

    tmp = tempfile.mkdtemp(prefix="peers-tumult-")
    spark = (
        SparkSession.builder.master("local[2]")
        .config("spark.driver.memory", "6g")
        .config("spark.sql.shuffle.partitions", "4")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.sql.warehouse.dir", tmp)
        .config("spark.local.dir", tmp)
        .getOrCreate()
    )
    spark.sparkContext.setLogLevel("ERROR")
    df = spark.read.parquet(spec["data"])
    total = spec["epsilon"] * spec["runs"] * len(spec["queries"])
    session = Session.from_dataframe(
        privacy_budget=PureDPBudget(total),
        source_id="claims",
        dataframe=df,
        protected_change=AddRowsWithID(id_column="person_id"),
    )
    return {"spark": spark, "session": session, "bounds": spec["bounds"]}


def notes(query: dict[str, Any]) -> str:
    if query["agg"] == "count_distinct":
        return "MaxGroupsPerID(1) on the person-attribute key, count_distinct(person_id)"
    return f"MaxRowsPerID({max(1, query['rows_bound'])})"


def _query(query: dict[str, Any], bounds: dict[str, list[float]]) -> Any:
    from tmlt.analytics import KeySet, MaxGroupsPerID, MaxRowsPerID, QueryBuilder

    qb = QueryBuilder("claims")
    where = tuple(Cond(c, op, tuple(v)) for c, op, v in query["where"])
    if where:
        qb = qb.filter(render_sql_where(where, like=True))
    keys = KeySet.from_dict(dict(zip(query["keys"], query["key_values"], strict=True)))
    agg, col = query["agg"], query["column"]
    if agg == "count_distinct":
        if not query["person_keys"] or len(query["keys"]) != 1:
            raise Unsupported("distinct persons over keys that are not one person attribute")
        grouped = qb.enforce(MaxGroupsPerID(query["keys"][0], 1)).groupby(keys)
        return grouped.count_distinct([col], name="v")
    grouped = qb.enforce(MaxRowsPerID(max(1, query["rows_bound"]))).groupby(keys)
    if agg == "count":
        return grouped.count(name="v")
    lo, hi = bounds[col]
    if agg == "sum":
        return grouped.sum(col, low=lo, high=hi, name="v")
    return grouped.average(col, low=lo, high=hi, name="v")


def prepare(
    handle: dict[str, Any], query: dict[str, Any], epsilon: float, runs: int
) -> Callable[[], list[list[Any]]]:
    from tmlt.analytics import PureDPBudget

    built = _query(query, query.get("bounds") or handle["bounds"])
    names = [*query["keys"], "v"]

    def release() -> list[list[Any]]:
        pdf = handle["session"].evaluate(built, PureDPBudget(epsilon)).toPandas()
        return pdf[names].values.tolist()

    return release


def close(handle: dict[str, Any]) -> None:
    handle["spark"].stop()
