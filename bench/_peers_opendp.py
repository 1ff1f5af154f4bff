"""The workload in OpenDP's Polars API: a ``dp.Context`` per query over the prepared table.

The privacy unit is one person identifier (``dp.unit_of(contributions=1,
identifier="person_id")``); each query truncates like the gateway (``truncate_per_group``
to the rows bound), groups by its keys, joins the policy's public key sets with
``with_keys`` (every key released, no δ), and aggregates with ``dp.len()`` or ``.dp.sum`` /
``.dp.mean`` within the policy's bounds; ``max_length`` margins are a loose public 10^9 rows
per group (needed for sums; not a parameter of the noise for integers). Amounts are cast
to whole units first, as OpenDP's examples do, so the integer Laplace applies. A count of
distinct persons declares in the privacy unit what is public about the key (a person has
one region: ``Bound(by=keys, num_groups=1)``) and keeps one row per person and group; the
library's ``truncate_num_groups`` is not used: with ``keep="first"`` it keeps k − 1 groups
(ranks start at 1), and ``keep="sample"`` fails on this Polars. The Polars plugin knows no
``str.starts_with`` nor ``is_in``: ICD-10 prefixes read the prepared ``icd10_cat`` column
with ``==`` and ``|``. Each Context has ε × releases split evenly: each release is at ε.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from importlib.metadata import version as _dist_version
from typing import Any

from bench._peers_queries import Unsupported

__all__ = ["close", "notes", "prepare", "setup", "version"]

MAX_LENGTH = 10**9  # loose public bound on rows per group


def version() -> str:
    return f"opendp {_dist_version('opendp')} (polars {_dist_version('polars')})"


def setup(spec: dict[str, Any]) -> dict[str, Any]:
    import opendp.prelude as dp
    import polars as pl

    dp.enable_features("contrib")
    return {"lf": pl.scan_parquet(spec["data"]), "bounds": spec["bounds"]}


def notes(query: dict[str, Any]) -> str:
    text = "with_keys(public key set)"
    if query["agg"] == "count_distinct":
        text += "; one group per person declared in the privacy unit"
    if any(op == "prefix" for _, op, _ in query["where"]):
        text += "; ICD-10 prefix via the pre-computed icd10_cat column (no starts_with)"
    return text


def _filter(where: list[list[Any]]) -> Any:
    import polars as pl

    expr = None
    for col, op, values in where:
        if op == "prefix":
            cond = None
            for v in values:
                one = pl.col("icd10_cat") == v
                cond = one if cond is None else cond | one
        elif op == "eq":
            cond = pl.col(col) == values[0]
        else:
            cond = pl.col(col) > values[0]
        expr = cond if expr is None else expr & cond
    return expr


def _aggregate(query: dict[str, Any], bounds: dict[str, list[float]]) -> Any:
    import opendp.prelude as dp
    import polars as pl

    agg, col = query["agg"], query["column"]
    if agg in ("count", "count_distinct"):
        return dp.len().alias("v")
    lo, hi = (int(b) for b in bounds[col])
    value = pl.col(col).cast(pl.Int64)
    return (value.dp.sum((lo, hi)) if agg == "sum" else value.dp.mean((lo, hi))).alias("v")


def prepare(
    handle: dict[str, Any], query: dict[str, Any], epsilon: float, runs: int
) -> Callable[[], list[list[Any]]]:
    import opendp.prelude as dp
    import polars as pl

    keys = list(query["keys"])
    distinct = query["agg"] == "count_distinct"
    if distinct and not query["person_keys"]:
        raise Unsupported("distinct persons over keys that are not person attributes")
    contributions: Any = 1
    if distinct:  # public: one person, one identifier, in one group of these keys
        contributions = [dp.polars.Bound(per_group=1), dp.polars.Bound(by=keys, num_groups=1)]
    ctx = dp.Context.compositor(
        data=handle["lf"],
        privacy_unit=dp.unit_of(contributions=contributions, identifier="person_id"),
        privacy_loss=dp.loss_of(epsilon=epsilon * runs),
        split_evenly_over=runs,
        margins=[dp.polars.Margin(by=keys, max_length=MAX_LENGTH)],
    )
    combos = list(itertools.product(*query["key_values"]))
    key_frame = pl.DataFrame({k: [c[i] for c in combos] for i, k in enumerate(keys)})

    def release() -> list[list[Any]]:
        q = ctx.query()
        if query["where"]:
            q = q.filter(_filter(query["where"]))
        if distinct:
            q = q.truncate_per_group(1, by=keys)
        else:
            q = q.truncate_per_group(max(1, query["rows_bound"]))
        q = (
            q.group_by(*keys)
            .agg(_aggregate(query, query.get("bounds") or handle["bounds"]))
            .with_keys(key_frame)
        )
        return q.release().collect().select([*keys, "v"]).rows()

    return release


def close(handle: dict[str, Any]) -> None:
    pass
