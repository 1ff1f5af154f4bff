"""Benchmark: the "auto" rows-per-person bound against the true per-person distribution.

For each query of a workload of filtered populations (all claims, small regions, inpatient
only, high-cost claims, weekly influenza, sums and averages per key) at ε = 1 through the
gateway's own stages: the exact histogram of rows per person (the one-pass query's part 1;
it never leaves a benchmark), its 95th percentile and maximum, the bound that would have
been best in hindsight (``c*``: the candidate 1, 2, 4, …, 512 whose releases have the least
median relative error against the exact unbounded answer), and over ``--runs`` releases
the bound ``auto`` chose (median and range) with its median relative error — next to the
former rule, OpenDP's DP 95th percentile over 1..512 (``p95 rule``), at the same ε share.
Relative errors are medians over cells and runs of the first aggregate.

    .venv/bin/python bench/auto_bounds.py --persons 20000 --runs 20
    .venv/bin/python bench/auto_bounds.py --persons 1000000 --runs 10 --home /tmp/ab/h1m
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import statistics
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._common import build_warehouse, cell_key, example_context, warehouse_options
from enclave.gateway.check.authorise import authorise
from enclave.gateway.check.check_shape import check_shape
from enclave.gateway.check.parse import parse
from enclave.gateway.execute import execute, read_histograms
from enclave.gateway.plan.pieces import AUTO
from enclave.gateway.plan.planner import plan
from enclave.gateway.release.bound import choose_bound
from enclave.gateway.release.noise import add_noise
from enclave.gateway.sql.auto import histogram, totals_at
from enclave.gateway.sql.rewrite import rewrite
from enclave.gateway.sql.stats import piece_stats
from enclave.gateway.values import (
    Bounded,
    Exact,
    Executed,
    GatewayContext,
    QueryRequest,
    Requested,
    advance,
)
from enclave.noise import private_quantile, quantile_candidates, row_candidates

J = "FROM claims c JOIN persons p ON p.person_id = c.person_id"
FLU = "icd10 LIKE 'J09%' OR icd10 LIKE 'J10%' OR icd10 LIKE 'J11%'"
WORKLOAD: dict[str, str] = {
    "all claims": "SELECT COUNT(*) AS n FROM claims",
    "claims per region": f"SELECT p.region, COUNT(*) AS n {J} GROUP BY p.region",
    "claims, Lienchiang": f"SELECT COUNT(*) AS n {J} WHERE p.region = 'Lienchiang'",
    "claims, Penghu": f"SELECT COUNT(*) AS n {J} WHERE p.region = 'Penghu'",
    "claims, Taitung": f"SELECT COUNT(*) AS n {J} WHERE p.region = 'Taitung'",
    "inpatient claims": "SELECT COUNT(*) AS n FROM claims WHERE setting = 'inpatient'",
    "inpatient claims, Kinmen": (
        f"SELECT COUNT(*) AS n {J} WHERE c.setting = 'inpatient' AND p.region = 'Kinmen'"
    ),
    "avg inpatient cost per ins. cat.": (
        f"SELECT p.insurance_category, AVG(c.amount) AS m {J} WHERE c.setting = 'inpatient' "
        "GROUP BY p.insurance_category"
    ),
    "high-cost claims per setting": (
        "SELECT setting, COUNT(*) AS n FROM claims WHERE amount > 10000 GROUP BY setting"
    ),
    "weekly influenza": (
        f"SELECT date_trunc('week', visit_date) AS week, COUNT(*) AS n FROM claims "
        f"WHERE {FLU} GROUP BY date_trunc('week', visit_date)"
    ),
    "total amount per setting": "SELECT setting, SUM(amount) AS s FROM claims GROUP BY setting",
}


def executed(sql: str, ctx: GatewayContext, epsilon: float) -> Executed:
    """The one-pass query run once (front half, rewrite, execute); draws reuse it."""
    member = ctx.projects["demo"].members[0]
    state: Any = Requested(request=QueryRequest(sql, "demo", member, epsilon=epsilon))
    for stage in (parse, authorise, check_shape, plan, rewrite, execute):
        state = stage(state, ctx)
    return state


def at_bound(state: Executed, c: int) -> Bounded:
    """The bounded totals at a fixed ``c`` (what ``choose_bound`` gives once it chose c)."""
    p = state.plan
    stats = piece_stats(p.aggregates, p.epsilon_split)
    nk = len(p.keys)
    rows = totals_at(state.rows, n_keys=nk, stats=stats, c=c)
    cols = (*(f"__k{i}" for i in range(nk)), *(f"__v{i}" for i in range(max(1, len(stats)))))
    bounded = dataclasses.replace(p, rows_per_person=c)
    return advance(state, Bounded, plan=bounded, exact=Exact(cols, rows, {}), measurements=())


def errors(bounded: Bounded, ctx: GatewayContext, truth: dict[Any, float]) -> list[float]:
    """Relative errors of the first aggregate, per cell, of one release."""
    release = add_noise(read_histograms(bounded, ctx), ctx).release
    p = bounded.plan
    nk, at = len(p.keys), p.output_columns.index(p.aggregates[0].alias)
    out = []
    for row in release.rows:
        true = truth.get(cell_key(row[:nk]), 0.0)
        if true and row[at] is not None:
            out.append(abs(float(row[at]) - true) / abs(true))
    return out


def median_error(draw: Callable[[], Bounded], ctx, truth, runs: int) -> tuple[float, list[int]]:
    errs: list[float] = []
    bounds: list[int] = []
    for _ in range(runs):
        bounded = draw()
        bounds.append(int(bounded.plan.rows_per_person))
        errs += errors(bounded, ctx, truth)
    return (statistics.median(errs) if errs else float("nan")), bounds


def quantile_rule(state: Executed, ctx: GatewayContext) -> Bounded:
    """The former rule: OpenDP's DP 0.95-quantile of rows per person over 1..cap."""
    rows, persons = histogram(state.rows, len(state.plan.keys))
    values = [r for r, n in zip(rows, persons, strict=True) for _ in range(n)]
    cap = ctx.dataset.contribution.auto_max_rows
    eps = state.plan.epsilon_split[AUTO]
    c = private_quantile(values, candidates=quantile_candidates(cap), alpha=0.95, epsilon=eps)
    return at_bound(state, c)


def truth_of(sql: str, ctx: GatewayContext, n_keys: int) -> dict[tuple[str, ...], float]:
    _, rows = ctx.engine.execute(sql)
    return {cell_key(r[:n_keys]): float(r[n_keys] or 0) for r in rows}


def percentile(rows: list[int], persons: list[int], q: float) -> int:
    total, seen = sum(persons), 0
    for r, n in sorted(zip(rows, persons, strict=True)):
        seen += n
        if seen >= q * total:
            return r
    return 0


def measure(name: str, sql: str, ctx: GatewayContext, runs: int) -> dict[str, Any]:
    state = executed(sql, ctx, 1.0)
    if AUTO not in state.plan.epsilon_split:  # a SUM of (person, group) totals: no rows bound
        return {"query": name, "no_rows_bound": True}
    nk = len(state.plan.keys)
    truth = truth_of(sql, ctx, nk)
    rows, persons = histogram(state.rows, nk)
    cap = ctx.dataset.contribution.auto_max_rows
    hindsight = {
        c: median_error(lambda c=c: at_bound(state, c), ctx, truth, runs)[0]
        for c in row_candidates(cap)
    }
    best = min(hindsight, key=lambda c: hindsight[c])
    auto_err, auto_c = median_error(lambda: choose_bound(state, ctx), ctx, truth, runs)
    old_err, old_c = median_error(lambda: quantile_rule(state, ctx), ctx, truth, runs)
    return {
        "query": name,
        "persons": sum(persons),
        "p95": percentile(rows, persons, 0.95),
        "max": max(rows, default=0),
        "best_c": best,
        "error_best": hindsight[best],
        "auto_c": [int(statistics.median(auto_c)), min(auto_c), max(auto_c)],
        "error_auto": auto_err,
        "p95_rule_c": [int(statistics.median(old_c)), min(old_c), max(old_c)],
        "error_p95_rule": old_err,
    }


def line(r: dict[str, Any]) -> str:
    def c(v: list[int]) -> str:
        return f"{v[0]} [{v[1]}–{v[2]}]"

    if r.get("no_rows_bound"):
        return f"{r['query']:34} no rows bound: its (person, group) totals are clamped"

    return (
        f"{r['query']:34} {r['persons']:>8} {r['p95']:>4} {r['max']:>4} {r['best_c']:>4} "
        f"{100 * r['error_best']:6.1f}% {c(r['auto_c']):>14} {100 * r['error_auto']:6.1f}% "
        f"{c(r['p95_rule_c']):>14} {100 * r['error_p95_rule']:6.1f}%"
    )


HEAD = (
    f"{'query':34} {'persons':>8} {'p95':>4} {'max':>4} {'c*':>4} {'err@c*':>7} "
    f"{'auto c':>14} {'err':>7} {'p95 rule c':>14} {'err':>7}"
)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    warehouse_options(ap, persons=20_000, seed=11)
    ap.add_argument("--runs", type=int, default=20, help="releases per error estimate")
    ap.add_argument("--only", default=None, help="run only queries whose name contains this")
    ap.add_argument("--json", action="store_true", help="one JSON object per query")
    args = ap.parse_args(argv)
    home = args.home or Path(tempfile.mkdtemp(prefix="bench-auto-"))
    ctx = example_context(build_warehouse(home, args.persons, args.seed))
    print(f"{args.persons} persons, ε = 1, {args.runs} runs per figure", flush=True)
    if not args.json:
        print(HEAD + "\n" + "-" * len(HEAD), flush=True)
    for name, sql in WORKLOAD.items():
        if args.only and args.only not in name:
            continue
        r = measure(name, sql, ctx, args.runs)
        print(json.dumps(r) if args.json else line(r), flush=True)
    ctx.engine.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
