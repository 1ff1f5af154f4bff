"""The workload in SmartNoise SQL: its SQL over the prepared table, bounds in a metadata YAML.

One ``PandasReader`` holds the prepared table (SmartNoise loads it into an in-memory
SQLite); each query gets a ``PrivateReader`` over it whose metadata YAML states the person
column (``private_id``), ``max_ids`` = the rows bound (reservoir sampling per person), the
policy's bounds of ``amount`` and ``los_days``, and ``censor_dims: false`` (keys are
public, so no δ-thresholding of rare keys). SmartNoise takes no list of public keys: it
releases the keys found in the data. Its ε is per aggregate column, so ε is divided by
the query's ``get_privacy_cost`` (AVG costs two: SUM and COUNT) to spend ε per query.
Its grammar has no LIKE: ICD-10 prefixes read the prepared ``icd10_cat`` column. It
refuses a Laplace scale over 10^7 ((upper − lower) · max_ids / ε): amounts in [0, 20000]
at a rows bound past 500 per query (past 250 for AVG, whose SUM gets ε/2).
"""

from __future__ import annotations

import contextlib
import tempfile
from collections.abc import Callable, Iterator
from importlib.metadata import version as _dist_version
from pathlib import Path
from typing import Any

from bench._peers_queries import Cond, Refused, render_sql_where

__all__ = ["close", "notes", "prepare", "setup", "version"]

TABLE = "nhi.claims"
DELTA = 1e-6


def version() -> str:
    return f"smartnoise-sql {_dist_version('smartnoise-sql')}"


def setup(spec: dict[str, Any]) -> dict[str, Any]:
    import pandas as pd
    from snsql.sql.reader.pandas import PandasReader

    df = pd.read_parquet(spec["data"])
    tmp = Path(tempfile.mkdtemp(prefix="peers-smartnoise-"))
    meta = _metadata_yaml(spec["bounds"], 1)
    path = tmp / "base.yaml"
    path.write_text(meta)
    return {"reader": PandasReader(df, str(path)), "tmp": tmp, "bounds": spec["bounds"]}


def _metadata_yaml(bounds: dict[str, list[float]], max_ids: int) -> str:
    cols = ["region", "sex", "insurance_category", "age_band", "setting", "icd10", "icd10_cat"]
    lines = [
        "claims_db:",
        "  nhi:",
        "    claims:",
        "      row_privacy: false",
        f"      max_ids: {max_ids}",
        "      censor_dims: false",
        "      person_id:",
        "        type: string",
        "        private_id: true",
        *[f"      {c}:\n        type: string" for c in cols],
        "      week:\n        type: string",
    ]
    for col, (lo, hi) in bounds.items():
        lines.append(f"      {col}:\n        type: float\n        lower: {lo}\n        upper: {hi}")
    return "\n".join(lines) + "\n"


def _sql(query: dict[str, Any]) -> str:
    keys = ", ".join(query["keys"])
    agg = {
        "count": "COUNT(*)",
        "count_distinct": f"COUNT(DISTINCT {query['column']})",
        "sum": f"SUM({query['column']})",
        "mean": f"AVG({query['column']})",
    }[query["agg"]]
    where = tuple(Cond(c, op, tuple(v)) for c, op, v in query["where"])
    filt = f" WHERE {render_sql_where(where)}" if where else ""
    return f"SELECT {keys}, {agg} AS v FROM {TABLE}{filt} GROUP BY {keys}"


def notes(query: dict[str, Any]) -> str:
    text = "keys as found in the data (censor_dims off; no public key list)"
    if any(op == "prefix" for _, op, _ in query["where"]):
        text += "; ICD-10 prefix via the pre-computed icd10_cat column (no LIKE)"
    return text


@contextlib.contextmanager
def _refusal() -> Iterator[None]:
    """SmartNoise's cap: it refuses a Laplace scale (upper − lower) · max_ids / ε over 10^7."""
    try:
        yield
    except ValueError as e:
        if "Noise scale is too large" not in str(e):
            raise
        cap = "its cap: (upper - lower) * max_ids / ε <= 1e7"
        raise Refused(f"{str(e).split('.  ')[0]} ({cap})") from e


def prepare(
    handle: dict[str, Any], query: dict[str, Any], epsilon: float, runs: int
) -> Callable[[], list[list[Any]]]:
    from snsql import Privacy
    from snsql.sql.private_reader import PrivateReader

    path = handle["tmp"] / f"q{abs(hash(query['name']))}.yaml"
    path.write_text(
        _metadata_yaml(query.get("bounds") or handle["bounds"], max(1, query["rows_bound"]))
    )
    sql = _sql(query)
    probe = PrivateReader(handle["reader"], str(path), privacy=Privacy(epsilon=1.0, delta=DELTA))
    with _refusal():
        cost = float(probe.get_privacy_cost(sql)[0])
    privacy = Privacy(epsilon=epsilon / cost, delta=DELTA)
    reader = PrivateReader(handle["reader"], str(path), privacy=privacy)

    def release() -> list[list[Any]]:
        with _refusal():
            rows = reader.execute(sql)[1:]  # the first row is the header
        return [list(r) for r in rows]

    return release


def close(handle: dict[str, Any]) -> None:
    for p in handle["tmp"].iterdir():
        p.unlink()
    handle["tmp"].rmdir()
