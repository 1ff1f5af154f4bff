"""Benchmark: the gateway against SmartNoise SQL, Tumult Analytics and OpenDP's Polars API.

Same warehouse (``bench._common.build_warehouse``), same eight questions
(``bench.gateway.WORKLOAD``), same ε = 1 per query, same bounds (``policies/dataset.toml``:
los_days in [0, 60], the public key sets; amount has an "auto" clamp, and the peers are
given the gateway's own choice of it per query, like the rows bound), same metric (median
relative error over cells against the exact DuckDB answer, pooled over ``--runs``
releases) and the median wall time of one release. The gateway answers the SQL itself:
join, bounds chosen privately per query (``auto``, 10% of ε), groups per person 4. The
peers read one prepared table, the claims with their person's attributes, ISO week, age
band and ICD-10 category joined in beforehand (``bench._peers_queries``; not timed), and
are given the rows bound ``c`` per query: the median of the gateway's own choices over the
runs (at least 1; it may choose differently each release), or ``--bound``. That spares them
the ε (10%) and the guess a bound costs. Each peer's idiom is in ``bench/_peers_<name>.py``;
a query a library cannot express (``unsupported``) or declines (``refused``, e.g.
SmartNoise's cap on the noise scale) is shown as such in the table, not dropped. Every
(query, system) record also goes to ``HOME/peers.jsonl``; the peers' stderr to
``HOME/peers.log``.

The peers live in virtualenvs of their own (their pins conflict with each other and with
the project): ``make bench-peers`` makes ``.venv-peers/{smartnoise,tumult,opendp}`` from
``bench/requirements-peers-*.txt`` and runs this script; by hand::

    python3.11 -m venv .venv-peers/tumult
    .venv-peers/tumult/bin/pip install -r bench/requirements-peers-tumult.txt   # likewise
    nice -n 10 .venv/bin/python bench/peers.py --persons 100000 --runs 5
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._common import ROOT, build_warehouse, cell_key, code_version
from bench._peers_queries import PEER_QUERIES, prepared_sql
from bench._peers_table import median_error, table
from bench.gateway import AGE, WORKLOAD, _truth, gateway

__all__ = ["PEERS", "RECORD_KEYS", "main"]

PEERS = ("smartnoise", "tumult", "opendp")
EPSILON = 1.0  # bench.gateway's requests are at ε = 1
BOUNDED = ("amount", "los_days")
#: the bounded columns whose clamp the gateway chooses per query (``clamp = "auto"``)
AUTO_CLAMPED = ("amount",)
#: a workload SUM or AVG as the STDDEV of the same rows (whose bounds the peers are given)
AS_STDDEV = re.compile(r"\b(sum|avg)\(", re.IGNORECASE)
#: one JSON object per (query, system), also written to HOME/peers.jsonl; ``status``:
#: released, unsupported (cannot be expressed), refused (by the library), failed, not installed
RECORD_KEYS = (
    "query", "system", "version", "status", "median_error", "median_s", "times",
    "rows_bound", "value_bound", "notes", "error", "setup_s", "persons", "claims", "runs",
    "epsilon",
)  # fmt: skip


def _export(settings: Any, home: Path) -> tuple[Path, float]:
    """The peers' prepared table as Parquet (made once per home); its export time."""
    import duckdb

    path = home / "peers.parquet"
    t = time.perf_counter()
    if not path.is_file():
        con = duckdb.connect(str(settings.warehouse_path), read_only=True)
        con.execute(f"COPY ({prepared_sql(AGE)}) TO '{path}' (FORMAT parquet)")
        con.close()
    return path, time.perf_counter() - t


def _public(ds: Any, name: str) -> tuple[list[list[str]], set[tuple[str, ...]]]:
    """Each key column's public values, and the set of public cells (their product)."""
    import itertools

    values = []
    for ks in PEER_QUERIES[name].key_sets:
        key_set = ds.key_set(ks)
        assert key_set is not None, ks
        values.append([str(v) for v in key_set.values])
    return values, {tuple(c) for c in itertools.product(*values)}


def _record(name: str, system: str, **fields: Any) -> dict[str, Any]:
    """One (query, system) result; every record has the same keys (``RECORD_KEYS``)."""
    base: dict[str, Any] = dict.fromkeys(RECORD_KEYS)
    base.update(query=name, system=system, status="released", times=[], notes="")
    unknown = set(fields) - set(RECORD_KEYS)
    assert not unknown, unknown
    return {**base, **fields}


def _row_choices(state: Any) -> tuple[int, float | None]:
    """The rows bound and row value clamp the gateway chose privately in a release."""
    alias = state.plan.aggregates[0].alias
    clamp = None
    if f"{state.plan.aggregates[0].id}.clamp" in state.release.mechanisms:
        clamp = state.release.bounds["clamps"][alias][1]
    return state.release.bounds.get("rows_per_person") or 0, clamp


def _gateway_runs(name: str, ctx: Any, runs: int, truth: dict, public: set) -> dict[str, Any]:
    """The gateway's releases of one query, and the rows bound and row value clamp it chose
    that the peers are then given — for a SUM or AVG, which clamp (person, group) totals
    (a SUM needs no rows bound), the ones it chooses for the STDDEV of the same rows."""
    sql, releases, times, bounds, clamps = WORKLOAD[name], [], [], [], []
    grouped = False
    for _ in range(runs):
        t = time.perf_counter()
        state = gateway(sql, ctx)
        times.append(time.perf_counter() - t)
        assert state.plan is not None and state.release is not None
        nk = len(state.plan.keys)
        idx = state.plan.output_columns.index(state.plan.aggregates[0].alias)
        releases.append([[*row[:nk], row[idx]] for row in state.release.rows])
        grouped = state.plan.aggregates[0].alias in state.release.bounds["group_total_clamps"]
        c, u = _row_choices(gateway(AS_STDDEV.sub("stddev(", sql), ctx) if grouped else state)
        bounds.append(c)
        if u is not None:
            clamps.append(u)
    return _record(
        name,
        "gateway",
        version=f"gateway {code_version()}",
        median_error=median_error(releases, truth, public, cell_key),
        median_s=statistics.median(times),
        times=times,
        rows_bound=int(statistics.median(bounds)),
        value_bound=statistics.median_low(clamps) if clamps else None,
        notes="SQL as written; rows bound auto (10% of ε), groups per person 4"
        + ("; value clamp auto (20% of the aggregate's ε)" if clamps else "")
        + ("; (person, group) totals clamped, peers given the STDDEV's bounds" if grouped else ""),
    )


def _spec(ds: Any, data: Path, runs: int, queries: list[dict[str, Any]]) -> dict[str, Any]:
    claims = ds.table("claims")
    bounds = {}
    for col in BOUNDED:
        policy = claims.column(col)
        bounds[col] = [policy.lower, policy.upper]
    return {
        "data": str(data),
        "epsilon": EPSILON,
        "runs": runs,
        "bounds": bounds,
        "queries": queries,
    }


def _peer_query(
    name: str, values: list[list[str]], rows_bound: int, bounds: dict[str, list[float]]
) -> dict[str, Any]:
    """One query for the peers, with its bounds: the policy's, and the gateway's value clamp
    where it chose one privately (``value_bound``, the median of its choices)."""
    q = PEER_QUERIES[name]
    where = [[c.column, c.op, list(c.values)] for c in q.where]
    fields = dataclasses.asdict(q) | {"where": where, "key_values": values}
    return fields | {"rows_bound": max(1, rows_bound), "bounds": bounds}


def _query_bounds(policy: dict[str, list[float]], column: str | None, clamp: Any) -> Any:
    if clamp is None or column not in AUTO_CLAMPED:
        return policy
    return {**policy, column: [policy[column][0], float(clamp)]}


def _run_peer(system: str, venvs: Path, spec_path: Path, log: Path) -> list[dict[str, Any]]:
    python = venvs / system / "bin" / "python"
    if not python.is_file():
        return []
    with log.open("a") as err:
        out = subprocess.run(
            [str(python), "-m", "bench._peers_worker", system, str(spec_path)],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=err,
            text=True,
            check=False,
        )
    return [json.loads(line) for line in out.stdout.splitlines() if line.startswith("{")]


def _score(raw: dict[str, Any], truth: dict, public: set, rows_bound: int) -> dict[str, Any]:
    times = raw.get("times") or []
    fields = {k: raw.get(k) for k in ("version", "status", "notes", "error", "setup_s")}
    if raw["status"] == "released":
        fields["median_error"] = median_error(raw["releases"], truth, public, cell_key)
        fields["median_s"] = statistics.median(times)
    return _record(raw["query"], raw["system"], times=times, rows_bound=rows_bound, **fields)


def _args(argv: list[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--persons", type=int, default=100_000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--home", type=Path, default=None, help="reuse/keep the enclave here")
    ap.add_argument("--runs", type=int, default=5, help="releases per error estimate")
    ap.add_argument("--bound", type=int, default=None, help="peers' rows bound (all queries)")
    ap.add_argument(
        "--value-bound",
        type=float,
        default=None,
        help="peers' clamp of an 'auto' clamp column (all queries; default: the gateway's)",
    )
    ap.add_argument("--systems", default="gateway," + ",".join(PEERS))
    ap.add_argument("--venvs", type=Path, default=ROOT / ".venv-peers")
    ap.add_argument("--json", action="store_true", help="one JSON object per (query, system)")
    return ap.parse_args(argv)


def _missing(name: str, system: str, venvs: Path, log: Path, c: int) -> dict[str, Any]:
    if (venvs / system / "bin" / "python").is_file():
        return _record(name, system, status="failed", error=f"no result; see {log}", rows_bound=c)
    why = f"no {venvs / system}: make bench-peers"
    return _record(name, system, status="not installed", error=why, rows_bound=c)


def _context(settings: Any) -> Any:
    from enclave.engines.duckdb import DuckDBEngine
    from enclave.gateway.values import GatewayContext
    from enclave.policy import load_dataset_policy, load_project_policies
    from enclave.settings import REPO_POLICIES

    ds = load_dataset_policy(REPO_POLICIES / "dataset.toml")
    projects = load_project_policies(REPO_POLICIES / "projects", ds)
    return GatewayContext(
        settings, ds, projects, DuckDBEngine(settings.warehouse_path, settings), None
    )


def _gateway_side(args: argparse.Namespace, ctx: Any, systems: list[str]) -> tuple[list, dict]:
    """Exact answers, public cells, the gateway's records and the peers' rows bounds."""
    records, per_query = [], {}
    for name in WORKLOAD:
        values, public = _public(ctx.dataset, name)
        truth = _truth(WORKLOAD[name], ctx, len(PEER_QUERIES[name].keys))
        bound, clamp = args.bound, args.value_bound
        if "gateway" in systems:
            rec = _gateway_runs(name, ctx, args.runs, truth, public)
            records.append(rec)
            bound = bound if bound is not None else rec["rows_bound"]
            clamp = clamp if clamp is not None else rec["value_bound"]
            print(f"  gateway: {name}", file=sys.stderr, flush=True)
        c = max(1, int(bound or 1))
        per_query[name] = {
            "truth": truth,
            "public": public,
            "c": c,
            "values": values,
            "clamp": clamp,
        }
    return records, per_query


def _peer_side(args: argparse.Namespace, systems: list[str], per_query: dict, spec: Path) -> list:
    records, log = [], spec.parent / "peers.log"
    for system in [s for s in systems if s != "gateway"]:
        print(f"  running {system} …", file=sys.stderr, flush=True)
        raws = {r["query"]: r for r in _run_peer(system, args.venvs, spec, log)}
        for name, q in per_query.items():
            raw = raws.get(name)
            if raw is None:
                records.append(_missing(name, system, args.venvs, log, q["c"]))
            else:
                records.append(_score(raw, q["truth"], q["public"], q["c"]))
    return records


def main(argv: list[str] | None = None) -> int:
    args = _args(argv)
    systems = [s.strip() for s in args.systems.split(",") if s.strip()]
    if "gateway" not in systems and (args.bound is None or args.value_bound is None):
        raise SystemExit(
            "without the gateway, give the peers' rows bound and value clamp with --bound "
            "and --value-bound"
        )
    home = args.home or Path(tempfile.mkdtemp(prefix="bench-peers-"))
    settings = build_warehouse(home, args.persons, args.seed, quiet=args.json)
    data, export_s = _export(settings, home)
    ctx = _context(settings)
    (n_claims,) = ctx.engine.execute("SELECT count(*) FROM claims")[1][0]
    out = sys.stderr if args.json else sys.stdout
    print(f"load average: {os.getloadavg()}", file=out, flush=True)
    print(
        f"warehouse: {args.persons} persons, {n_claims} claims; ε = {EPSILON} per query, "
        f"{args.runs} releases; peers' prepared table exported in {export_s:.1f} s (not timed)",
        file=out,
        flush=True,
    )
    records, per_query = _gateway_side(args, ctx, systems)
    ctx.engine.close()
    policy = _spec(ctx.dataset, data, args.runs, [])["bounds"]
    queries = [
        _peer_query(
            n, q["values"], q["c"], _query_bounds(policy, PEER_QUERIES[n].column, q["clamp"])
        )
        for n, q in per_query.items()
    ]
    spec = home / "peers-spec.json"
    spec.write_text(json.dumps(_spec(ctx.dataset, data, args.runs, queries)))
    records += _peer_side(args, systems, per_query, spec)
    with (home / "peers.jsonl").open("w") as f:
        for r in records:
            r.update(persons=args.persons, claims=n_claims, runs=args.runs, epsilon=EPSILON)
            line = json.dumps(r, default=str)
            print(line, file=f)
            if args.json:
                print(line)
    if not args.json:
        print(table(records, systems))
        versions = {r["system"]: r["version"] for r in records if r["version"]}
        print("versions: " + "; ".join(f"{k}: {v}" for k, v in versions.items()))
    print(f"load average: {os.getloadavg()}", file=out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
