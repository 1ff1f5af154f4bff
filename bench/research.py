"""Benchmark: research questions through the gateway at ε = 1 vs their exact answers.

The workload (``bench/_research_questions.py``) is written as a health-services researcher
writes it: patient-level WITH tables grouped by person, cohort filters, age bands. Each
question runs on one synthetic warehouse (``--persons``) twice over: exact, on raw DuckDB
(the same sandboxed connection), and through the gateway's whole path at ε = 1 — parse →
authorise → check_shape → plan, then rewrite → execute → choose_bound → read_histograms →
add_noise under the request deadline, then the privacy-loss check (the metadata store's
reservation, cache and commit are left out, so each repetition is a fresh release). A
question the gateway refuses is reported as refused, with the error type and message.

Per question: accepted or refused; time of the gateway's path vs raw DuckDB (medians over
``--reps``); cells in the exact answer, cells with ≥ 1,000 persons, cells missing from the
release (suppressed private keys) and released cells the exact answer lacks. Per measured
column: its kind and target, the median relative error over cells and repetitions, the
same over cells of ≥ 1,000 persons, and how many exact cells had no released value.
Targets (issue 13, at 1M persons, cells ≥ 1,000 persons): counts and sums ≤ 5%, averages
and quantiles ≤ 10%.

    .venv/bin/python bench/research.py                      # 20,000 persons, 3 reps
    .venv/bin/python bench/research.py --persons 1000000    # the large run
    .venv/bin/python bench/research.py --persons 300 --reps 1 --json
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._common import (
    build_warehouse,
    code_version,
    example_context,
    run_header,
    warehouse_options,
)
from bench._research_questions import QUESTIONS
from bench._research_run import Bench, run_question
from bench._research_table import table

__all__ = ["main"]

PROJECT = "demo"


def _args(argv: list[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    warehouse_options(ap, persons=20_000, seed=1)
    ap.add_argument("--reps", type=int, default=3, help="releases (and timings) per question")
    ap.add_argument("--epsilon", type=float, default=1.0)
    ap.add_argument("--only", action="append", default=[], help="question names containing")
    ap.add_argument("--json", action="store_true", help="one JSON object per question")
    return ap.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = _args(argv)
    home = args.home or Path(tempfile.mkdtemp(prefix="bench-research-"))
    ctx = example_context(build_warehouse(home, args.persons, args.seed, quiet=args.json))
    engine = ctx.engine
    bench = Bench(ctx, PROJECT, ctx.projects[PROJECT].members[0], args.epsilon)
    (n_claims,) = engine.execute_raw("SELECT count(*) FROM claims")[1][0]
    out = sys.stderr if args.json else sys.stdout
    code = code_version()
    print(f"code: {code}", flush=True, file=out)
    detail = f"ε = {args.epsilon:g} per question, {args.reps} releases each"
    run_header(args.persons, n_claims, detail, out=out)
    records: list[dict[str, Any]] = []
    for q in QUESTIONS:
        if args.only and not any(s.lower() in q.name.lower() for s in args.only):
            continue
        record = run_question(q, bench, args.reps)
        record.update(persons=args.persons, claims=n_claims, code=code)
        records.append(record)
        if args.json:
            print(json.dumps(record), flush=True)
        else:
            print(f"  {q.name}: {record['status']}", flush=True, file=sys.stderr)
    print(f"load average: {os.getloadavg()}", flush=True, file=out)
    if not args.json:
        print(table(records))
    engine.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
