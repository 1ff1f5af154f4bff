"""One research question: its exact answer, its releases at ε, and the errors between them.

A release is the gateway's whole path as ``answer`` runs it, less the metadata store:
``front`` (parse → authorise → check_shape → plan, under the request deadline), the back
stages with the deadline checked after each, and the privacy-loss check. A refusal
(``UserError``) is recorded with its type and message; anything else is a failure,
recorded with its type and the place it was raised only.
"""

from __future__ import annotations

import statistics
import time
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench._common import cell_key, median_time
from bench._research_questions import TARGETS, Measure, Question
from enclave.errors import UserError
from enclave.gateway.deadline import check_deadline, request_limit
from enclave.gateway.pipeline import BACK, _check_privacy_loss, front
from enclave.gateway.values import GatewayContext, QueryRequest, Release

__all__ = ["BIG_CELL", "Bench", "Cells", "exact_cells", "release_of", "run_question"]

#: Cells with at least this many persons have their own error figure (the targets' groups).
BIG_CELL = 1000

Key = tuple[str, ...]
Cells = dict[Key, dict[str, Any]]


@dataclass(frozen=True)
class Bench:
    ctx: GatewayContext
    project: str
    member: str
    epsilon: float


def release_of(sql: str, bench: Bench) -> Release:
    """The release the gateway gives for ``sql`` (or the ``UserError`` it refuses it with)."""
    ctx = bench.ctx
    state: Any = front(QueryRequest(sql, bench.project, bench.member, epsilon=bench.epsilon), ctx)
    for stage in BACK:
        state = stage(state, ctx)
        check_deadline(state.deadline, request_limit(ctx.settings))
    _check_privacy_loss(state)
    release: Release = state.release
    return release


def _cells(columns: tuple[str, ...], rows: Any, keys: tuple[str, ...]) -> Cells:
    missing = [k for k in keys if k not in columns]
    if missing:
        raise LookupError(f"no key column {missing} in the answer")
    at = [columns.index(k) for k in keys]
    return {cell_key(r[i] for i in at): dict(zip(columns, r, strict=True)) for r in rows}


def exact_cells(q: Question, columns: tuple[str, ...], rows: Any) -> Cells:
    cells = _cells(columns, rows, q.keys)
    wanted = [m.column for m in q.measures] + [q.persons]
    absent = [c for c in wanted if c not in columns]
    if absent:
        raise LookupError(f"the exact SQL of {q.name!r} lacks {absent}")
    return cells


def _median(values: list[float]) -> float | None:
    return statistics.median(values) if values else None


def measure_errors(m: Measure, exact: Cells, persons: str, releases: list[Cells]) -> dict:
    """Median relative error of one released column over exact cells and releases."""
    errs: list[float] = []
    big: list[float] = []
    missing: list[int] = []
    for cells in releases:
        miss = 0
        for key, truth in exact.items():
            est = cells.get(key, {}).get(m.column)
            if est is None:
                miss += 1
                continue
            true = truth[m.column]
            if true is None or float(true) == 0.0:
                continue  # no relative error against 0
            err = abs(float(est) - float(true)) / abs(float(true))
            errs.append(err)
            if (truth[persons] or 0) >= BIG_CELL:
                big.append(err)
        missing.append(miss)
    return {
        "column": m.column,
        "kind": m.kind,
        "target": TARGETS[m.kind],
        "median_rel_error": _median(errs),
        "median_rel_error_big_cells": _median(big),
        "values_missing": _median([float(x) for x in missing]),
    }


def _failure(exc: BaseException) -> tuple[str, str, str]:
    if isinstance(exc, UserError):
        return "refused", type(exc).__name__, exc.message
    frame = traceback.extract_tb(exc.__traceback__)[-1]
    return "failed", type(exc).__name__, f"raised at {Path(frame.filename).name}:{frame.lineno}"


Done = list[tuple[float, Release, Cells]]


def _releases(q: Question, bench: Bench, reps: int) -> tuple[Done, Any]:
    """Up to ``reps`` timed releases with their cells; stops at the first refusal."""
    done: Done = []
    for _ in range(reps):
        t = time.perf_counter()
        try:
            release = release_of(q.sql, bench)
            seconds = time.perf_counter() - t
            done.append((seconds, release, _cells(release.columns, release.rows, q.keys)))
        except Exception as exc:
            return done, _failure(exc)
    return done, None


def _status(released: int, reps: int, failure: Any) -> str:
    if failure is None:
        return "accepted"
    return failure[0] if released == 0 else f"partly {failure[0]}"


def _bounds(releases: list[Release]) -> dict[str, Any]:
    if not releases:
        return {"rows_bound": None, "private_keys": None, "bounds": None}
    rows = [r.bounds.get("rows_per_person") or 0 for r in releases]
    last = releases[-1].bounds
    return {
        "rows_bound": statistics.median(rows),
        "private_keys": list(last.get("private_keys", [])),
        "bounds": dict(last),
    }


def run_question(q: Question, bench: Bench, reps: int) -> dict[str, Any]:
    """One JSON-ready record: status, times, cells and per-column errors of ``q``."""
    engine: Any = bench.ctx.engine  # DuckDBEngine: execute_raw times an exact query
    columns, rows = engine.execute_raw(q.exact_sql)  # the exact answer, and a warm-up
    exact = exact_cells(q, columns, rows)
    raw_s = median_time(lambda: engine.execute_raw(q.exact_sql), reps)
    done, failure = _releases(q, bench, reps)
    released = [cells for _, _, cells in done]
    gw_s = _median([s for s, _, _ in done])
    return {
        "question": q.name,
        "kinds": sorted({m.kind for m in q.measures}),
        "epsilon": bench.epsilon,
        "reps": reps,
        "status": _status(len(done), reps, failure),
        "released_reps": len(done),
        "error_type": failure[1] if failure else None,
        "error": failure[2] if failure else None,
        "raw_s": raw_s,
        "gateway_s": gw_s,
        "ratio": None if gw_s is None or not raw_s else gw_s / raw_s,
        "cells_exact": len(exact),
        "cells_big": sum(1 for t in exact.values() if (t[q.persons] or 0) >= BIG_CELL),
        "cells_missing": _median([float(len(exact.keys() - c.keys())) for c in released]),
        "cells_extra": _median([float(len(c.keys() - exact.keys())) for c in released]),
        **_bounds([r for _, r, _ in done]),
        "measures": [measure_errors(m, exact, q.persons, released) for m in q.measures],
        "sql": q.sql,
    }
