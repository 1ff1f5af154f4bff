"""The peer benchmark asks the peers the gateway's questions and scores them the same way.

Without the peer libraries: the neutral spec names the workload's queries, its keys are
public key sets of the policy, and on a tiny warehouse the prepared table answers each
spec query (with LIKE, and with the ICD-10 category column that SmartNoise and OpenDP
read) exactly as the workload SQL does on the warehouse; the metric; the worker's statuses
(released, unsupported, refused, failed) with a stub library; the driver end to end
with the gateway alone, and a peer without its virtualenv shown as not installed. With
the peers' virtualenvs present (``make bench-peers``), SmartNoise SQL and OpenDP answer
every query of a tiny run; those tests alone are skipped without them.
"""

from __future__ import annotations

import contextlib
import doctest
import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb
import pytest

from bench import _peers_queries, _peers_table, _peers_worker, peers
from bench._common import ROOT, build_warehouse, cell_key
from bench._peers_queries import PEER_QUERIES, prepared_sql, render_sql_where
from bench.gateway import AGE, WORKLOAD
from enclave.policy import load_dataset_policy
from enclave.settings import REPO_POLICIES, Settings

PERSONS = 300


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    home = tmp_path_factory.mktemp("peers")
    build_warehouse(home, PERSONS, 1, quiet=True)
    return home


@pytest.fixture
def con(home: Path) -> Iterator[duckdb.DuckDBPyConnection]:
    """The warehouse and the prepared table as a view (closed: the driver opens it too)."""
    settings = Settings(home=home, master_key_hex="00" * 32)
    c = duckdb.connect(str(settings.warehouse_path), read_only=True)
    c.execute(f"CREATE TEMP VIEW prepared AS {prepared_sql(AGE)}")
    yield c
    c.close()


def _answers(con: duckdb.DuckDBPyConnection, sql: str, nk: int) -> dict[tuple, float]:
    return {cell_key(r[:nk]): float(r[nk] or 0) for r in con.execute(sql).fetchall()}


def _spec_sql(q: _peers_queries.PeerQuery, like: bool) -> str:
    keys = ", ".join(q.keys)
    agg = {"count": "count(*)", "count_distinct": f"count(DISTINCT {q.column})"}.get(
        q.agg, f"{'sum' if q.agg == 'sum' else 'avg'}({q.column})"
    )
    where = f" WHERE {render_sql_where(q.where, like=like)}" if q.where else ""
    return f"SELECT {keys}, {agg} FROM prepared{where} GROUP BY {keys}"


def test_the_spec_names_the_workload_and_public_key_sets() -> None:
    ds = load_dataset_policy(REPO_POLICIES / "dataset.toml")
    assert list(PEER_QUERIES) == list(WORKLOAD)
    for q in PEER_QUERIES.values():
        assert len(q.keys) == len(q.key_sets)
        assert all(ds.key_set(k) is not None for k in q.key_sets), q.name
        cols = {*q.keys, *(c.column for c in q.where), *([q.column] if q.column else [])}
        assert cols <= set(_peers_queries.PREPARED_COLUMNS), q.name
    claims = ds.table("claims")
    assert claims is not None
    assert [(claims.column(c).lower, claims.column(c).upper) for c in peers.BOUNDED] == [  # type: ignore[union-attr]
        (0, 5_000_000),
        (0, 60),
    ]
    # amount's clamp is chosen per query: the peers get the gateway's choice, nothing wider
    policy = {"amount": [0.0, 5e6], "los_days": [0.0, 60.0]}
    assert peers._query_bounds(policy, "amount", 50_000.0) == {
        "amount": [0.0, 50_000.0],
        "los_days": [0.0, 60.0],
    }
    assert peers._query_bounds(policy, "amount", None) == policy
    assert peers._query_bounds(policy, "person_id", 4.0) == policy
    assert [claims.column(c).auto_clamp for c in peers.BOUNDED] == [  # type: ignore[union-attr]
        c in peers.AUTO_CLAMPED for c in peers.BOUNDED
    ]


@pytest.mark.parametrize("like", [True, False], ids=["like", "icd10_cat"])
@pytest.mark.parametrize("name", list(WORKLOAD))
def test_the_prepared_table_asks_the_same_question(
    con: duckdb.DuckDBPyConnection, name: str, like: bool
) -> None:
    q = PEER_QUERIES[name]
    exact = _answers(con, WORKLOAD[name], len(q.keys))
    assert exact and _answers(con, _spec_sql(q, like), len(q.keys)) == pytest.approx(exact)


def test_the_metric_scores_public_nonzero_cells_only() -> None:
    truth = {("a",): 10.0, ("b",): 0.0, ("c",): 4.0}
    public = {("a",), ("b",), ("c",)}
    rows = [["a", 12], ["b", 3], ["c", float("nan")], ["z", 1], ["c", None]]
    assert _peers_table.cell_errors(rows, truth, public) == [pytest.approx(0.2)]
    assert _peers_table.median_error([rows, [["c", 5]]], truth, public) == pytest.approx(0.225)
    assert _peers_table.median_error([[["b", 1]]], truth, public) is None


@pytest.mark.parametrize("module", [_peers_queries, _peers_table])
def test_doctests(module: object) -> None:
    assert doctest.testmod(module).failed == 0  # type: ignore[arg-type]


def _run(home: Path, *args: str) -> list[dict[str, Any]]:
    out = io.StringIO()
    argv = ["--persons", str(PERSONS), "--runs", "1", "--json", "--home", str(home), *args]
    with contextlib.redirect_stdout(out):
        assert peers.main(argv) == 0
    return [json.loads(line) for line in out.getvalue().splitlines()]


def test_gateway_alone_and_a_missing_peer_shown(home: Path, tmp_path: Path) -> None:
    records = _run(home, "--systems", "gateway,tumult", "--venvs", str(tmp_path / "none"))
    assert [(r["query"], r["system"]) for r in records] == [
        *((n, "gateway") for n in WORKLOAD),
        *((n, "tumult") for n in WORKLOAD),
    ]
    for r in records:
        assert set(r) == set(peers.RECORD_KEYS) and r["persons"] == PERSONS
        if r["system"] == "gateway":
            assert r["status"] == "released" and r["median_s"] > 0 and len(r["times"]) == 1
            # at this size a release may withhold every cell of an AVG (then no error)
            assert r["median_error"] is None or r["median_error"] >= 0, r["query"]
        else:
            assert r["status"] == "not installed" and "make bench-peers" in r["error"]
    scored = [r for r in records if r["system"] == "gateway" and r["median_error"] is not None]
    assert len(scored) >= len(WORKLOAD) - 2  # nearly every query is scored
    text = _peers_table.table(records, ["gateway", "tumult"])
    assert text.count("not installed") == len(WORKLOAD) * 2  # the cell and the reason


def _venv(system: str) -> Path:
    python = ROOT / ".venv-peers" / system / "bin" / "python"
    if not python.is_file():
        pytest.skip(f".venv-peers/{system} absent (make bench-peers)")
    return python


@pytest.mark.slow
@pytest.mark.parametrize("system", ["smartnoise", "opendp"])
def test_a_peer_answers_every_query(home: Path, system: str) -> None:
    _venv(system)
    records = _run(home, "--systems", system, "--bound", "4", "--value-bound", "20000")
    assert [r["query"] for r in records] == list(WORKLOAD)
    for r in records:
        assert r["status"] == "released", (r["query"], r["error"])
        assert r["rows_bound"] == 4 and r["version"].startswith(("smartnoise", "opendp"))
        assert r["median_error"] is not None and r["median_s"] > 0, r["query"]


class _Stub:
    """A peer module whose prepare/release behave as told."""

    def __init__(self, prepare: Any) -> None:
        self._prepare = prepare

    def notes(self, query: dict) -> str:
        return "stub"

    def prepare(self, handle: Any, query: dict, epsilon: float, runs: int) -> Any:
        return self._prepare()


def _unsupported() -> Any:
    raise _peers_queries.Unsupported("no such aggregate")


def _declined() -> Any:
    raise _peers_queries.Refused("scale over the cap")


def _broken() -> Any:
    raise ValueError("bad plan\nmore")


def _failing() -> Any:
    def release() -> list:
        raise RuntimeError("lost the executor")

    return release


@pytest.mark.parametrize(
    ("prepare", "status", "error"),
    [
        (lambda: lambda: [["a", 1]], "released", None),
        (_unsupported, "unsupported", "no such aggregate"),
        (_declined, "refused", "scale over the cap"),
        (_broken, "failed", "ValueError: bad plan"),
        (_failing, "failed", "RuntimeError: lost the executor"),
    ],
)
def test_the_worker_reports_what_a_library_did(prepare: Any, status: str, error: Any) -> None:
    rec = _peers_worker._run_query(_Stub(prepare), None, {"name": "q"}, {"epsilon": 1, "runs": 2})
    assert rec["query"] == "q" and rec["status"] == status and rec["notes"] == "stub"
    assert rec.get("error") == error
    if status == "released":
        assert rec["releases"] == [[["a", 1]], [["a", 1]]] and len(rec["times"]) == 2
