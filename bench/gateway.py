"""Benchmark: the DP gateway vs raw DuckDB on a realistic workload, and the error it costs.

Steps: ``pseudonymize.synth.generate`` (identified NHI-style extract) → ``pseudonymize.ingest``
→ for each workload query: median wall time of the gateway stages (front half parse →
authorise → check_shape → plan, back half rewrite → execute → choose_bound →
read_histograms → add_noise; the metadata
store's reservation/commit is not included) vs raw DuckDB running the exact unbounded
query on the same sandboxed connection; and the median relative error over ``--runs``
releases at ε = 1 with a fixed bound of 10 rows per person and with ``auto`` bounds,
next to the relative error of the noise-free bounded answer (the bias of bounding alone).
It also times both bounding strategies at the fixed bound (per-person pre-aggregation vs
row_number()), and the former two-pass "auto" path (a histogram query, then the bounded
query at c = 32) that the one-pass query (``sql.auto``) replaced. ``auto c`` = 0 means
the query needs no rows bound (COUNT(DISTINCT person) only). ``uptime`` is printed: the
machine may be shared.

    .venv/bin/python bench/gateway.py --persons 1000000          # ~10M claims
    .venv/bin/python bench/gateway.py --persons 20000 --runs 5   # quick
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import statistics
import sys
import tempfile
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._common import (
    build_warehouse,
    cell_key,
    example_context,
    median_time,
    run_header,
    warehouse_options,
)
from enclave.engines.hashing import query_salt
from enclave.gateway.check.authorise import authorise
from enclave.gateway.check.check_shape import check_shape
from enclave.gateway.check.parse import parse
from enclave.gateway.pipeline import BACK
from enclave.gateway.plan.planner import plan
from enclave.gateway.release.assemble import _estimates
from enclave.gateway.release.estimates import Noisy
from enclave.gateway.sql.rewrite import bounded_query
from enclave.gateway.values import GatewayContext, QueryRequest, Requested

J = "FROM claims c JOIN persons p ON p.person_id = c.person_id"
AGE = (
    "CASE WHEN 2024 - p.birth_year < 18 THEN '0-17' WHEN 2024 - p.birth_year < 40 THEN '18-39' "
    "WHEN 2024 - p.birth_year < 65 THEN '40-64' ELSE '65+' END"
)
WORKLOAD: dict[str, str] = {
    "claims per region (join)": f"SELECT p.region, count(*) AS n {J} GROUP BY p.region",
    "diabetic patients per region": (
        f"SELECT p.region, count(DISTINCT c.person_id) AS patients {J} "
        "WHERE c.icd10 LIKE 'E11%' GROUP BY p.region"
    ),
    "total amount per setting": "SELECT setting, sum(amount) AS total FROM claims GROUP BY setting",
    "avg amount per insurance cat.": (
        f"SELECT p.insurance_category, avg(c.amount) AS avg_amount {J} "
        "GROUP BY p.insurance_category"
    ),
    "weekly influenza": (
        "SELECT date_trunc('week', visit_date) AS week, count(*) AS n FROM claims "
        "WHERE icd10 LIKE 'J09%' OR icd10 LIKE 'J10%' OR icd10 LIKE 'J11%' "
        "GROUP BY date_trunc('week', visit_date)"
    ),
    "claims by sex x age band": f"SELECT p.sex, {AGE} AS age_band, count(*) AS n {J} "
    f"GROUP BY p.sex, {AGE}",
    "inpatient LOS by region": (
        f"SELECT p.region, avg(c.los_days) AS mean_los {J} WHERE c.setting = 'inpatient' "
        "GROUP BY p.region"
    ),
    "high-cost claims per setting": (
        "SELECT setting, count(*) AS n FROM claims WHERE amount > 10000 GROUP BY setting"
    ),
}


def _front(sql: str, ctx: GatewayContext) -> Requested:
    state = Requested(
        request=QueryRequest(sql, "demo", ctx.projects["demo"].members[0], epsilon=1.0)
    )
    for stage in (parse, authorise, check_shape):
        state = stage(state, ctx)
    return state


def gateway(sql: str, ctx: GatewayContext) -> Requested:
    state = _front(sql, ctx)
    for stage in (plan, *BACK):
        state = stage(state, ctx)
    return state


def _strategy_time(plan_: Any, ds: Any, salt: str, strategy: Any, engine: Any, reps: int) -> float:
    """Median time of the bounded SQL alone; NaN when the engine refuses it (memory/time)."""
    from enclave.errors import QueryRejected

    try:
        return median_time(lambda: engine.execute(bounded_query(plan_, ds, salt, strategy)), reps)
    except QueryRejected:
        return float("nan")


def _two_pass_time(sql: str, ctx: GatewayContext, reps: int) -> float:
    """The former "auto" path: histogram query, then the bounded query at the chosen c."""
    from enclave.gateway.sql.bounded import auto_bound_sql
    from enclave.gateway.sql.rewrite import key_filters

    state = plan(_front(sql, ctx), ctx)
    p = state.plan
    if p is None or p.rows_per_person != "auto":
        return float("nan")
    cap = ctx.dataset.contribution.auto_max_rows
    hist = auto_bound_sql(p.relation_sql, key_filters(p, ctx.dataset), cap)
    fixed = dataclasses.replace(p, rows_per_person=cap // 16)
    salt = query_salt(state.normalized_sql or sql)
    bounded = bounded_query(fixed, ctx.dataset, salt)
    return median_time(lambda: (ctx.engine.execute(hist), ctx.engine.execute(bounded)), reps)


def _truth(sql: str, ctx: GatewayContext, n_keys: int) -> dict[tuple[Any, ...], float]:
    _, rows = ctx.engine.execute(sql)
    return {cell_key(r[:n_keys]): float(r[n_keys] or 0) for r in rows}


def _rel(est: Any, true: float) -> float | None:
    if est is None or not true:
        return None
    return abs(float(est) - true) / abs(true)


def _first_agg_errors(state: Requested, truth: dict[Any, float]) -> list[float]:
    assert state.plan is not None and state.release is not None
    nk = len([k for k in state.plan.keys])
    alias = state.plan.aggregates[0].alias
    idx = state.plan.output_columns.index(alias)
    errs = []
    for row in state.release.rows:
        e = _rel(row[idx], truth.get(cell_key(row[:nk]), 0.0))
        if e is not None:
            errs.append(e)
    return errs


def _bias(state: Requested, ctx: GatewayContext, truth: dict[Any, float]) -> float | None:
    """Median relative error of the noise-free bounded answer (first aggregate)."""
    plan_, exact = state.plan, state.exact
    assert plan_ is not None and exact is not None
    from enclave.gateway.plan.pieces import plan_pieces

    pieces = [p for p in plan_pieces(plan_.aggregates, plan_.epsilon_split) if p.in_sql]
    nk = len(plan_.keys)
    errs = []
    for row in exact[1]:
        by = {
            p.id: Noisy(float(int(row[nk + i] or 0)) * p.unit_value, 0.0, 0.0, True, 1.0)
            for i, p in enumerate(pieces)
        }
        est = _estimates(plan_, by)[plan_.aggregates[0].alias][0]
        e = _rel(est, truth.get(cell_key(row[:nk]), 0.0))
        if e is not None:
            errs.append(e)
    return statistics.median(errs) if errs else None


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    warehouse_options(ap, persons=1_000_000, seed=1)
    ap.add_argument("--reps", type=int, default=5, help="timing repetitions (median)")
    ap.add_argument("--runs", type=int, default=20, help="releases per error estimate")
    ap.add_argument("--json", action="store_true", help="one JSON object per query on stdout")
    args = ap.parse_args(argv)
    home = args.home or Path(tempfile.mkdtemp(prefix="bench-gateway-"))
    settings = build_warehouse(home, args.persons, args.seed)
    ctx_auto = example_context(settings)
    engine, ds = ctx_auto.engine, ctx_auto.dataset
    fixed = dataclasses.replace(
        ds, contribution=dataclasses.replace(ds.contribution, rows_per_person=10)
    )
    ctx_fixed = dataclasses.replace(ctx_auto, dataset=fixed)
    (n_claims,) = engine.execute("SELECT count(*) FROM claims")[1][0]
    out = sys.stderr if args.json else sys.stdout
    run_header(args.persons, n_claims, "front half: real", out=out)
    head = (
        f"{'query':32} {'raw s':>7} {'gw s':>7} {'ratio':>6} {'preagg s':>8} "
        f"{'window s':>8} {'2pass s':>7} {'err@10':>7} {'bias@10':>7} {'err@auto':>8} "
        f"{'bias@auto':>9} {'auto c':>6}"
    )
    lines = [head, "-" * len(head)]
    for name, sql in WORKLOAD.items():
        engine.execute_raw(sql)  # warm
        raw = median_time(lambda sql=sql: engine.execute_raw(sql), args.reps)
        gw = median_time(lambda sql=sql: gateway(sql, ctx_auto), args.reps)
        st_fixed = gateway(sql, ctx_fixed)
        assert st_fixed.plan is not None
        nk = len(st_fixed.plan.keys)
        truth = _truth(sql, ctx_fixed, nk)
        salt = query_salt(st_fixed.normalized_sql or sql)
        t_pre = _strategy_time(st_fixed.plan, fixed, salt, "preagg", engine, args.reps)
        t_win = _strategy_time(st_fixed.plan, fixed, salt, "window", engine, args.reps)
        t_two = _two_pass_time(sql, ctx_auto, args.reps)
        errs_f: list[float] = []
        errs_a: list[float] = []
        cs = []
        for _ in range(args.runs):
            errs_f += _first_agg_errors(gateway(sql, ctx_fixed), truth)
            st_a = gateway(sql, ctx_auto)
            errs_a += _first_agg_errors(st_a, truth)
            bound = st_a.release.bounds["rows_per_person"] if st_a.release else None
            cs.append(0 if bound is None else bound)  # 0: no rows bound needed
        bias_f = _bias(st_fixed, ctx_fixed, truth)
        bias_a = _bias(st_a, ctx_auto, truth)

        def f(v: float | None) -> str:
            return "   n/a" if v is None else f"{100 * v:6.1f}%"

        if args.json:
            record = {
                "query": name,
                "persons": args.persons,
                "claims": n_claims,
                "raw_s": raw,
                "gateway_s": gw,
                "ratio": gw / raw,
                "error_fixed_bound": statistics.median(errs_f) if errs_f else None,
                "bias_fixed_bound": bias_f,
                "error_auto_bound": statistics.median(errs_a) if errs_a else None,
                "bias_auto_bound": bias_a,
                "auto_rows_bound": int(statistics.median(cs)),
            }
            print(json.dumps(record), flush=True)
            continue

        lines.append(
            f"{name:32} {raw:7.3f} {gw:7.3f} {gw / raw:6.2f} {t_pre:8.3f} {t_win:8.3f} {t_two:7.3f} "
            f"{f(statistics.median(errs_f) if errs_f else None):>7} {f(bias_f):>7} "
            f"{f(statistics.median(errs_a) if errs_a else None):>8} {f(bias_a):>9} "
            f"{int(statistics.median(cs)):6d}"
        )
        print(lines[-1], flush=True)
    print(f"load average: {os.getloadavg()}", file=out)
    if not args.json:
        print("\n" + "\n".join(lines))
    engine.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
