"""The research benchmark's printed table: one line per measured column, question figures on
its first line, then why each refused question was refused.

>>> rec = {"question": "q", "status": "refused", "rows_bound": None, "private_keys": None,
...        "raw_s": 0.01, "gateway_s": None, "ratio": None, "cells_exact": 2, "cells_big": 0,
...        "cells_missing": None, "error_type": "QueryRejected", "error": "No.",
...        "measures": [{"column": "n", "kind": "count", "target": 0.05,
...                      "median_rel_error": None, "median_rel_error_big_cells": None,
...                      "values_missing": None}]}
>>> print(table([rec]).splitlines()[-1])
  q: QueryRejected: No.
"""

from __future__ import annotations

from typing import Any

__all__ = ["table"]

HEAD = (
    f"{'question':40} {'status':9} {'c':>4} {'priv':4} {'raw s':>6} {'gw s':>6} {'ratio':>6} "
    f"{'cells':>5} {'>=1k':>4} {'miss':>5} | {'column':18} {'kind':8} {'target':>7} "
    f"{'err':>7} {'err>=1k':>7} {'vmiss':>5}"
)


def _pct(v: float | None) -> str:
    return "-" if v is None else f"{100 * v:.1f}%"


def _num(v: float | None, fmt: str) -> str:
    return "-" if v is None else format(v, fmt)


def _question_cols(r: dict[str, Any]) -> str:
    status = {"accepted": "ok", "refused": "REFUSED", "failed": "FAILED"}.get(r["status"])
    priv = "-" if r["private_keys"] is None else ("yes" if r["private_keys"] else "no")
    return (
        f"{r['question'][:40]:40} {status or r['status'][:9]:9} "
        f"{_num(r['rows_bound'], '.0f'):>4} {priv:4} {_num(r['raw_s'], '.3f'):>6} "
        f"{_num(r['gateway_s'], '.3f'):>6} {_num(r['ratio'], '.1f'):>6} {r['cells_exact']:>5} "
        f"{r['cells_big']:>4} {_num(r['cells_missing'], '.0f'):>5}"
    )


def _measure_cols(m: dict[str, Any]) -> str:
    return (
        f"{m['column'][:18]:18} {m['kind']:8} {'<=' + _pct(m['target']):>7} "
        f"{_pct(m['median_rel_error']):>7} {_pct(m['median_rel_error_big_cells']):>7} "
        f"{_num(m['values_missing'], '.0f'):>5}"
    )


def table(records: list[dict[str, Any]]) -> str:
    """The table of ``records`` (``run_question``'s), refusal messages below it."""
    lines = [HEAD, "-" * len(HEAD)]
    blank = " " * len(_question_cols(records[0])) if records else ""
    for r in records:
        for i, m in enumerate(r["measures"]):
            lines.append(f"{_question_cols(r) if i == 0 else blank} | {_measure_cols(m)}")
    why = [r for r in records if r["error_type"]]
    if why:
        lines += ["", "refused or failed:"]
        lines += [f"  {r['question']}: {r['error_type']}: {r['error']}" for r in why]
    return "\n".join(lines)
