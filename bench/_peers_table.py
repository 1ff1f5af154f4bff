"""The peer benchmark's metric and its printed table.

The metric is bench/gateway.py's: the relative error |released − exact| / |exact| of every
released cell whose exact answer is not 0, pooled over the releases, and its median. Cells
outside the public key sets are not scored (the gateway and the peers given the key sets
never release them), nor are withheld or empty values (an average over no rows).

>>> truth = {("Taipei",): 100.0, ("Keelung",): 10.0}
>>> public = {("Taipei",), ("Keelung",)}
>>> median_error([[["Taipei", 90], ["Keelung", 10], ["Mars", 5]]], truth, public)
0.05
>>> rec = {"query": "q", "system": "tumult", "status": "unsupported", "rows_bound": 4,
...        "median_error": None, "median_s": None, "error": "no LIKE"}
>>> print(table([rec], ["tumult"]).splitlines()[-1])
  q / tumult: unsupported: no LIKE
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Callable, Iterable
from typing import Any

__all__ = ["cell_errors", "median_error", "table"]

Key = tuple[str, ...]


def _rel(est: Any, true: float) -> float | None:
    if est is None or not true:
        return None
    value = float(est)
    if math.isnan(value):
        return None
    return abs(value - true) / abs(true)


def cell_errors(
    rows: Iterable[list[Any]],
    truth: dict[Key, float],
    public: set[Key],
    key_of: Callable[[Iterable[Any]], Key] | None = None,
) -> list[float]:
    """Relative errors of one release's ``[key, …, value]`` rows (public, non-zero cells)."""
    errs = []
    for row in rows:
        key = key_of(row[:-1]) if key_of else tuple(str(v) for v in row[:-1])
        if key not in public:
            continue
        e = _rel(row[-1], truth.get(key, 0.0))
        if e is not None:
            errs.append(e)
    return errs


def median_error(
    releases: list[list[list[Any]]],
    truth: dict[Key, float],
    public: set[Key],
    key_of: Callable[[Iterable[Any]], Key] | None = None,
) -> float | None:
    """Median relative error over the cells of all releases; None when none is scored."""
    errs = [e for rows in releases for e in cell_errors(rows, truth, public, key_of)]
    return statistics.median(errs) if errs else None


def _cell(r: dict[str, Any] | None) -> str:
    if r is None:
        return f"{'-':>17}"
    if r["status"] != "released":
        return f"{r['status'][:17]:>17}"
    err = "-" if r["median_error"] is None else f"{100 * r['median_error']:.1f}%"
    return f"{err:>8} {r['median_s']:7.2f}s"


def table(records: list[dict[str, Any]], systems: list[str]) -> str:
    """Query × system → median error and median seconds per release; then the reasons."""
    by = {(r["query"], r["system"]): r for r in records}
    queries = list(dict.fromkeys(r["query"] for r in records))
    head = f"{'query':30} {'c':>4} " + " ".join(f"{s:>17}" for s in systems)
    sub = f"{'':30} {'':>4} " + " ".join(f"{'err':>8} {'s/rel':>8}" for _ in systems)
    lines = [head, sub, "-" * len(head)]
    for q in queries:
        mine = [r for r in records if r["query"] == q]
        peer = [r for r in mine if r["system"] != "gateway"] or mine
        c = peer[0]["rows_bound"] if peer else None
        cells = " ".join(_cell(by.get((q, s))) for s in systems)
        lines.append(f"{q[:30]:30} {'-' if c is None else c:>4} {cells}")
    reasons = [r for r in records if r["status"] != "released"]
    if reasons:
        lines.append("not released:")
        lines += [f"  {r['query']} / {r['system']}: {r['status']}: {r['error']}" for r in reasons]
    return "\n".join(lines)
