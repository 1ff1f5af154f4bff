"""The research benchmark runs end to end on a tiny warehouse and keeps its JSON shape.

One run at 300 persons and one release per question: one JSON object per question on
stdout, each with its status, times, cells and per-column errors; refusals carry their
error type. The bench modules' doctests run here too (``bench/`` is not a test path).
"""

from __future__ import annotations

import contextlib
import doctest
import json

import pytest

from bench import _common, _research_questions, _research_table, research
from bench._research_questions import QUESTIONS, TARGETS

RECORD_KEYS = {
    "question", "kinds", "epsilon", "reps", "status", "released_reps", "error_type", "error",
    "raw_s", "gateway_s", "ratio", "cells_exact", "cells_big", "cells_missing", "cells_extra",
    "rows_bound", "private_keys", "bounds", "measures", "sql", "persons", "claims", "code",
}  # fmt: skip
MEASURE_KEYS = {
    "column", "kind", "target", "median_rel_error", "median_rel_error_big_cells",
    "values_missing",
}  # fmt: skip


@pytest.fixture(scope="module")
def records(tmp_path_factory: pytest.TempPathFactory) -> list[dict]:
    home = tmp_path_factory.mktemp("research")
    out = home / "out.jsonl"
    with out.open("w") as f, contextlib.redirect_stdout(f):
        assert (
            research.main(["--persons", "300", "--reps", "1", "--json", "--home", str(home)]) == 0
        )
    return [json.loads(line) for line in out.read_text().splitlines()]


def test_one_record_per_question_with_its_shape(records: list[dict]) -> None:
    assert [r["question"] for r in records] == [q.name for q in QUESTIONS]
    for r, q in zip(records, QUESTIONS, strict=True):
        assert set(r) == RECORD_KEYS, r["question"]
        assert r["persons"] == 300 and r["epsilon"] == 1.0 and r["reps"] == 1
        assert r["raw_s"] > 0 and r["cells_exact"] >= 1
        assert [m["column"] for m in r["measures"]] == [m.column for m in q.measures]
        for m in r["measures"]:
            assert set(m) == MEASURE_KEYS and m["target"] == TARGETS[m["kind"]]


def test_status_and_figures_agree(records: list[dict]) -> None:
    for r in records:
        assert r["status"] in {"accepted", "refused", "failed", "partly refused", "partly failed"}
        if r["status"] == "accepted":
            assert r["released_reps"] == 1 and r["error_type"] is None
            assert r["gateway_s"] > 0 and r["cells_missing"] is not None
        else:
            assert r["error_type"] and r["error"]
        if r["released_reps"] == 0:
            assert r["gateway_s"] is None
            assert all(m["median_rel_error"] is None for m in r["measures"])


def test_the_table_prints_every_question(records: list[dict]) -> None:
    text = _research_table.table(records)
    assert all(r["question"][:40] in text for r in records)


@pytest.mark.parametrize("module", [_common, _research_questions, _research_table])
def test_bench_doctests(module: object) -> None:
    assert doctest.testmod(module).failed == 0  # type: ignore[arg-type]
