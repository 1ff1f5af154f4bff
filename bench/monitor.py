"""How long the public monitor takes to render two years × 22 regions × 3 indicators.

Builds (or reuses, with --home) an enclave with every week of the three standing
indicators published through the gateway, then measures:

* backfill: releasing and publishing every week (only when it builds the enclave);
* data + alerts: reading the published releases and computing EARS C1/C2/C3 for every
  (indicator, region) series (what the page does on a cold cache);
* page: a full AppTest run of dashboards/views/monitor.py (median of several runs; the
  first run, with imports and a cold cache, is reported separately).

    .venv/bin/python bench/monitor.py [--persons 20000] [--home DIR] [--runs 5]
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

from enclave.settings import Settings

VIEW = Path(__file__).resolve().parent.parent / "dashboards" / "views" / "monitor.py"


def build(home: Path, persons: int) -> float:
    from enclave.service import backfill_indicators as backfill
    from pseudonymize.ingest import ingest
    from pseudonymize.synth import generate

    settings = Settings.from_environ({"ENCLAVE_HOME": str(home)})
    generate(home / "extract", persons, seed=1)
    ingest(home / "extract", "nhi", settings)
    start = time.perf_counter()
    summary = backfill(settings)
    took = time.perf_counter() - start
    print(
        f"backfill: {summary['released']} weekly releases, ε {summary['epsilon_spent']:g}, "
        f"{summary['refused']} refused, {took:.1f} s ({1000 * took / max(1, summary['released']):.0f} ms each)"
    )
    return took


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--persons", type=int, default=20_000)
    parser.add_argument("--home", type=Path, default=None)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()

    home = args.home or Path(tempfile.mkdtemp(prefix="bench-monitor-"))
    settings = Settings.from_environ({"ENCLAVE_HOME": str(home)})
    from enclave.indicators import published_path

    if not published_path(home).is_file():
        build(home, args.persons)

    from dashboards._data import monitor_rows

    times = []
    for _ in range(args.runs):
        start = time.perf_counter()
        rows = monitor_rows(settings)
        times.append(time.perf_counter() - start)
    series = len({(r["indicator"], r["region"]) for r in rows})
    weeks = len({r["period"] for r in rows})
    print(f"published: {len(rows)} values = {series} series × {weeks} weeks")
    print(f"data + alerts: median {1000 * statistics.median(times):.0f} ms over {args.runs} runs")

    from streamlit.testing.v1 import AppTest

    os.environ["ENCLAVE_HOME"] = str(home)
    page = []
    for _ in range(args.runs + 1):
        start = time.perf_counter()
        at = AppTest.from_file(str(VIEW), default_timeout=120).run()
        page.append(time.perf_counter() - start)
        assert not at.exception, "the monitor raised"
    print(
        f"page (AppTest): first {page[0]:.2f} s, then median "
        f"{statistics.median(page[1:]):.2f} s over {args.runs} runs"
    )


if __name__ == "__main__":
    main()
