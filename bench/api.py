"""API benchmark: requests/s and p50/p99 latency over loopback, cached vs fresh releases.

    .venv/bin/python bench/api.py                          # 100k persons, built here
    .venv/bin/python bench/api.py --warehouse /path/warehouse.duckdb   # e.g. the 1M one
    .venv/bin/python bench/api.py --clients 32 --seconds 10 --workers 2

(a) cached: N concurrent keep-alive clients ask the same query again and again (after one
warm-up ask); each answer comes from the release cache (no parsing, no warehouse) but is
still authenticated, rate-counted, budget-read and audited.
(b) fresh: every request is a distinct query (a different literal in the filter), so each
runs the whole gateway: parse … execute on DuckDB, OpenDP noise, charge, audit.
(c) in-process: the same fresh workload through ``Service.query`` in this process with
as many threads as the server has workers; the ratio (b)/(c) is the HTTP overhead.

The load generator is a small raw HTTP/1.1 keep-alive client on asyncio, so that the
client itself does not eat the 2 cores the server needs.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from enclave.service import Service
from enclave.settings import Settings
from enclave.store import Principal, open_store
from tests._api_server import free_port, running_server

CACHED_SQL = "SELECT region, COUNT(*) AS n FROM persons GROUP BY region"
FRESH_SQL = (
    "SELECT c.setting, COUNT(*) AS n, SUM(c.amount) AS total FROM claims c "
    "WHERE c.amount <> -{i} GROUP BY c.setting"
)
STEWARD = Principal(user="bench-steward", role="steward", token_id="bench")


def build(home: Path, persons: int, warehouse: Path | None) -> Settings:
    settings = Settings(home=home, master_key_hex="00" * 32)
    settings.ensure_home()
    if warehouse is not None:
        if not settings.warehouse_path.exists():
            os.symlink(warehouse.resolve(), settings.warehouse_path)
    elif not settings.warehouse_path.is_file():
        from pseudonymize.ingest import ingest
        from pseudonymize.synth import generate

        t = time.perf_counter()
        generate(home / "extract", persons=persons, seed=5)
        ingest(home / "extract", "nhi", settings)
        print(f"built {persons:,} persons in {time.perf_counter() - t:.0f} s", flush=True)
    return settings


def setup_accounts(settings: Settings) -> str:
    svc = Service(settings)
    with open_store(settings) as store:
        if store.accounts.user("bench@uni") is None:
            store.accounts.add_user("bench@uni", "researcher", actor="bench")
        token = store.accounts.issue_token("bench@uni", actor="bench")
    if svc.store.projects.get("bench") is None:
        who = Principal(user="bench@uni", role="researcher", token_id="bench")
        svc.apply_project(
            who,
            "bench",
            title="bench",
            purpose="benchmark",
            tables=["claims", "persons"],
            requested_epsilon=1e6,
        )
        rules = {
            "tables": {"claims": ["*"], "persons": ["*"]},
            "epsilon": 1e6,
            "max_epsilon_per_query": 1.0,
        }
        svc.approve_project(STEWARD, "bench", rules)
    return token


def _request(token: str, body: dict) -> bytes:
    data = json.dumps(body).encode()
    head = (
        "POST /v1/queries HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        f"Authorization: Bearer {token}\r\nContent-Length: {len(data)}\r\n\r\n"
    )
    return head.encode() + data


async def _one(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, req: bytes) -> int:
    writer.write(req)
    status_line = await reader.readline()
    length = 0
    while True:
        line = await reader.readline()
        if line in (b"\r\n", b""):
            break
        if line.lower().startswith(b"content-length:"):
            length = int(line.split(b":")[1])
    await reader.readexactly(length)
    return int(status_line.split()[1])


async def load(port: int, requests: list[bytes], clients: int) -> tuple[float, list[float], dict]:
    """Send ``requests`` over ``clients`` keep-alive connections; (seconds, latencies, codes)."""
    queue = list(reversed(requests))
    latencies: list[float] = []
    codes: dict[int, int] = {}

    async def worker() -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        while queue:
            req = queue.pop()
            t = time.perf_counter()
            code = await _one(reader, writer, req)
            latencies.append(time.perf_counter() - t)
            codes[code] = codes.get(code, 0) + 1
        writer.close()

    t0 = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(clients)))
    return time.perf_counter() - t0, latencies, codes


def group_cpu(pgid: int) -> float:
    """CPU seconds used so far by every process in a process group (the server)."""
    total = 0.0
    tick = os.sysconf("SC_CLK_TCK")
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == pgid:
            total += (int(fields[11]) + int(fields[12])) / tick
    return total


def run_load(pgid: int, requests: list[bytes], clients: int) -> tuple:
    cpu0, own0 = group_cpu(pgid), time.process_time()
    secs, lat, codes = asyncio.run(load(PORT[0], requests, clients))
    cpu = group_cpu(pgid) - cpu0
    own = time.process_time() - own0
    return secs, lat, codes, cpu, own


PORT = [0]


def _report(name: str, n: int, seconds: float, lat: list[float], codes: dict) -> float:
    lat = sorted(lat)
    p50 = statistics.median(lat) * 1e3
    p99 = lat[min(len(lat) - 1, int(0.99 * len(lat)))] * 1e3
    rate = n / seconds
    print(f"{name:<28} {rate:>9.2f} req/s   p50 {p50:>7.1f} ms   p99 {p99:>7.1f} ms   {codes}")
    return rate


def _cpu_line(server_cpu: float, client_cpu: float, n: int) -> None:
    per = server_cpu / n * 1e3
    cores = os.cpu_count() or 1
    print(
        f"{'':<28} server CPU {per:.2f} ms/request (client {client_cpu / n * 1e3:.2f} ms); "
        f"{cores} idle cores would serve about {cores * 1000 / per:.0f} req/s"
    )


def in_process(settings: Settings, token: str, n: int, threads: int, offset: int) -> float:
    svc = Service(settings)
    who = svc.authenticate(token)
    svc.query(who, FRESH_SQL.format(i=offset - 1), "bench", epsilon=0.01)  # open the engine

    def ask(i: int) -> None:
        svc.query(who, FRESH_SQL.format(i=offset + i), "bench", epsilon=0.01)

    t = time.perf_counter()
    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(ask, range(n)))
    rate = n / (time.perf_counter() - t)
    print(f"{'(c) fresh, in-process':<28} {rate:>9.2f} req/s   ({threads} threads)")
    return rate


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--persons", type=int, default=100_000)
    ap.add_argument("--warehouse", type=Path, default=None, help="use this warehouse file")
    ap.add_argument("--home", type=Path, default=None, help="keep the enclave here")
    ap.add_argument("--clients", type=int, default=32)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--cached", type=int, default=6000, help="cached requests to send")
    ap.add_argument("--fresh", type=int, default=200, help="fresh queries to send")
    ap.add_argument("--fresh-clients", type=int, default=None, help="default: --workers")
    args = ap.parse_args(argv)
    home = args.home or Path(tempfile.mkdtemp(prefix="bench-api-"))
    settings = build(home, args.persons, args.warehouse)
    token = setup_accounts(settings)
    port = free_port()
    with running_server(settings, workers=args.workers, rate_limit=10**9) as srv:
        port = int(srv.url.rsplit(":", 1)[1])
        cached = _request(token, {"sql": CACHED_SQL, "project": "bench", "epsilon": 0.5})
        warm = asyncio.run(load(port, [cached] * (args.workers * 8), args.workers * 4))
        assert set(warm[2]) == {200}, warm[2]
        print(
            f"warehouse: {settings.warehouse_path} ; {args.workers} workers ; "
            f"{args.clients} clients ; cores {os.cpu_count()}"
        )
        PORT[0] = port
        pgid = srv.proc.pid
        secs, lat, codes, cpu, own = run_load(pgid, [cached] * args.cached, args.clients)
        cached_rate = _report("(a) cached release, HTTP", args.cached, secs, lat, codes)
        _cpu_line(cpu, own, args.cached)
        stamp = int(time.time()) % 100_000 * 1000
        fresh = [
            _request(
                token,
                {"sql": FRESH_SQL.format(i=stamp + i), "project": "bench", "epsilon": 0.01},
            )
            for i in range(args.fresh)
        ]
        secs, lat, codes, cpu, own = run_load(pgid, fresh, args.fresh_clients or args.workers)
        fresh_rate = _report("(b) fresh DP query, HTTP", args.fresh, secs, lat, codes)
        _cpu_line(cpu, own, args.fresh)
    local = in_process(settings, token, args.fresh, args.workers, stamp + 10 * args.fresh)
    print(f"cached target ≥ 1000 req/s: {'met' if cached_rate >= 1000 else 'NOT met'}")
    ratio = local / fresh_rate
    print(
        f"fresh HTTP vs in-process: in-process is {ratio:.2f}x HTTP throughput "
        f"(target ≤ 2x): {'met' if ratio <= 2 else 'NOT met'}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
