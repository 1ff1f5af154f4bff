"""Engine benchmark: the gateway workload's exact bounded SQL on DuckDB and on Spark.

For each warehouse size (``--persons``, about 10 claims per person) the script builds a
synthetic warehouse (``enclave synth`` + ingest, reused when present), exports it to
Parquet, then for each query of ``bench/gateway.py``'s workload runs the gateway's front
half, plan and rewrite once, and times the one rewritten SQL (the ``execute`` stage, the
only one that depends on the engine) on the sandboxed DuckDB engine and on the Spark
engine (``--master``, local[2] by default): median of ``--reps`` runs after one warm-up.
Noise, budget and audit are the same code for both engines and are not timed here.

    .venv/bin/python bench/engines.py --persons 100000,1000000

Prints a table per size and the per-row cost used by docs/scaling.md.
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib.util
import statistics
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench._common import example_context  # noqa: E402


def _gateway_bench() -> Any:
    spec = importlib.util.spec_from_file_location("bench_gateway", ROOT / "bench" / "gateway.py")
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _timed(gb: Any, fn: Any, reps: int) -> float:
    fn()  # warm-up (JIT, file cache, plan caches)
    return float(gb._median_time(fn, reps))


def run_size(gb: Any, persons: int, base: Path, reps: int, master: str) -> list[dict[str, Any]]:
    from enclave.engines.parquet import export_parquet, read_manifest
    from enclave.engines.spark import SparkEngine
    from enclave.gateway.plan.planner import plan
    from enclave.gateway.sql.rewrite import rewrite

    home = base / f"engines-{persons}"
    settings = gb.build_warehouse(home, persons, 1)
    settings = dataclasses.replace(
        settings, spark_master=master, memory_limit="4GB", query_timeout_s=3600
    )
    t = time.perf_counter()
    root = export_parquet(settings)
    export_s = time.perf_counter() - t
    claims = read_manifest(root)["rows"]["claims"]
    print(f"\n{persons:,} persons, {claims:,} claims; parquet export {export_s:.1f} s", flush=True)
    ctx = example_context(settings)
    t = time.perf_counter()
    spark = SparkEngine(settings)
    print(f"spark engine opened in {time.perf_counter() - t:.1f} s ({master})", flush=True)
    rows = []
    for name, sql in gb.WORKLOAD.items():
        state = rewrite(plan(gb._front(sql, ctx), ctx), ctx)
        bounded = state.rewritten_sql
        duck_s = _timed(gb, lambda b=bounded: ctx.engine.execute(b), reps)
        spark_s = _timed(gb, lambda b=bounded: spark.execute(b), reps)
        row = {
            "persons": persons,
            "claims": claims,
            "query": name,
            "duckdb_s": duck_s,
            "spark_s": spark_s,
            "ratio": spark_s / duck_s,
        }
        rows.append(row)
        print(
            f"  {name:<32} duckdb {duck_s:8.3f} s   spark {spark_s:8.3f} s   "
            f"spark/duckdb {row['ratio']:6.1f}",
            flush=True,
        )
    spark.close()
    ctx.engine.close()
    return rows


def _summary(rows: list[dict[str, Any]]) -> None:
    print("\n| claims | query | DuckDB s | Spark local[2] s | Spark/DuckDB |")
    print("|---:|---|---:|---:|---:|")
    for r in rows:
        print(
            f"| {r['claims']:,} | {r['query']} | {r['duckdb_s']:.3f} | {r['spark_s']:.3f} | "
            f"{r['ratio']:.1f} |"
        )
    for claims in sorted({r["claims"] for r in rows}):
        sub = [r for r in rows if r["claims"] == claims]
        duck = statistics.median(r["duckdb_s"] for r in sub)
        spark = statistics.median(r["spark_s"] for r in sub)
        print(
            f"\n{claims:,} claims: median per query DuckDB {duck:.3f} s, Spark {spark:.3f} s; "
            f"Spark cost {spark / claims * 1e9:.0f} ns per claim row on 2 cores "
            f"({spark * 2 / claims * 1e9:.0f} core-ns per row)"
        )


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--persons", default="100000,1000000", help="comma-separated sizes")
    ap.add_argument("--base", type=Path, default=Path("/tmp"), help="where warehouses live")
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--master", default="local[2]")
    args = ap.parse_args(argv)
    gb = _gateway_bench()
    rows: list[dict[str, Any]] = []
    for persons in (int(p) for p in args.persons.split(",")):
        rows.extend(run_size(gb, persons, args.base, args.reps, args.master))
    _summary(rows)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
