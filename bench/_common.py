"""What the gateway benchmarks share: the synthetic warehouse (its options and a gateway
context over it), the median timer, and one normal form for a cell's keys so that released
and exact cells can be matched.

>>> import datetime as dt
>>> cell_key([dt.datetime(2024, 3, 1), dt.date(2024, 3, 1), 30.0, "Taipei", None])
('2024-03-01', '2024-03-01', '30', 'Taipei', 'None')
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, TextIO

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from enclave.settings import Settings  # noqa: E402

__all__ = [
    "ROOT",
    "build_warehouse",
    "cell_key",
    "code_version",
    "example_context",
    "median_time",
    "run_header",
    "warehouse_options",
]


def build_warehouse(home: Path, persons: int, seed: int, *, quiet: bool = False) -> Settings:
    """A synthetic NHI-style extract ingested into ``home`` (kept and reused if present)."""
    from pseudonymize.ingest import ingest
    from pseudonymize.synth import generate

    settings = Settings(home=home, master_key_hex="00" * 32)
    settings.ensure_home()
    if settings.warehouse_path.is_file():
        return settings
    t = time.perf_counter()
    generate(home / "extract", persons=persons, seed=seed)
    if not quiet:
        print(f"synth: {time.perf_counter() - t:.1f} s", flush=True, file=sys.stderr)
    t = time.perf_counter()
    ingest(home / "extract", "nhi", settings)
    if not quiet:
        print(f"ingest: {time.perf_counter() - t:.1f} s", flush=True, file=sys.stderr)
    return settings


def warehouse_options(ap: argparse.ArgumentParser, *, persons: int, seed: int) -> None:
    """``--persons``, ``--seed`` and ``--home``: the synthetic warehouse a benchmark runs on."""
    ap.add_argument("--persons", type=int, default=persons)
    ap.add_argument("--seed", type=int, default=seed)
    ap.add_argument("--home", type=Path, default=None, help="reuse/keep the enclave here")


def example_context(settings: Settings) -> Any:
    """A gateway context over the DuckDB warehouse of ``settings`` with the repository's
    example policies and no metadata store."""
    from enclave.engines.duckdb import DuckDBEngine
    from enclave.gateway.values import GatewayContext
    from enclave.policy import load_dataset_policy, load_project_policies
    from enclave.settings import REPO_POLICIES

    ds = load_dataset_policy(REPO_POLICIES / "dataset.toml")
    projects = load_project_policies(REPO_POLICIES / "projects", ds)
    engine = DuckDBEngine(settings.warehouse_path, settings)
    return GatewayContext(settings, ds, projects, engine, None)  # type: ignore[arg-type]


def run_header(persons: int, claims: int, detail: str, *, out: TextIO) -> None:
    """Before a run: the load average, and the warehouse's size with ``detail`` after it."""
    print(f"load average: {os.getloadavg()}", flush=True, file=out)
    print(f"warehouse: {persons} persons, {claims} claims; {detail}", flush=True, file=out)


def median_time(fn: Callable[[], Any], reps: int) -> float:
    """Median wall time of ``reps`` calls of ``fn``."""
    times = []
    for _ in range(reps):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def _text(value: Any) -> str:
    if isinstance(value, dt.datetime):
        value = value.date()
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    text = str(value)
    if len(text) >= 19 and text[4] == "-" and text[10] in " T" and text[11:19] == "00:00:00":
        return text[:10]  # a midnight timestamp written as text is its date
    return text


def cell_key(values: Iterable[Any]) -> tuple[str, ...]:
    """One cell's key values as text: dates as ISO dates, whole floats as integers."""
    return tuple(_text(v) for v in values)


def code_version() -> str:
    """The checkout's commit, ``+ changes`` when its tracked files differ from it."""
    try:
        head = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "diff", "--quiet", "HEAD"], cwd=ROOT, capture_output=True
        ).returncode
    except OSError:
        return "unknown"
    return f"{head or 'unknown'}{' + changes' if dirty else ''}"
