"""Runs one peer library over the spec that ``bench/peers.py`` wrote: one JSON line a query.

Run inside that library's virtualenv, from the repository root::

    .venv-peers/tumult/bin/python -m bench._peers_worker tumult SPEC.json

The spec holds the prepared table's path, ε, the number of releases and, per query, the
neutral form of ``bench._peers_queries`` with its bounds, public key sets and rows bound.
Each output line carries the releases as ``[key, …, value]`` rows and the wall time of each
release; a query the library cannot express comes back as ``unsupported`` with the reason,
one the library declines by a limit of its own as ``refused`` with its message, and one that
fails as ``failed`` with the error's type and first line.
"""

from __future__ import annotations

import importlib
import json
import sys
import time
import warnings
from pathlib import Path
from typing import Any

from bench._peers_queries import Refused, Unsupported

__all__ = ["main"]


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0][:200] if text else ''}"


def _run_query(mod: Any, handle: Any, query: dict[str, Any], spec: dict[str, Any]) -> dict:
    record: dict[str, Any] = {"query": query["name"], "notes": mod.notes(query)}
    try:
        release = mod.prepare(handle, query, spec["epsilon"], spec["runs"])
    except Unsupported as e:
        return {**record, "status": "unsupported", "error": str(e)}
    except Refused as e:
        return {**record, "status": "refused", "error": str(e)}
    except Exception as e:  # a library's own failure is a result of the comparison
        return {**record, "status": "failed", "error": _first_line(e)}
    releases, times = [], []
    try:
        for _ in range(spec["runs"]):
            t = time.perf_counter()
            rows = release()
            times.append(time.perf_counter() - t)
            releases.append(rows)
    except Refused as e:
        return {**record, "status": "refused", "error": str(e), "times": times}
    except Exception as e:  # a library's own failure is a result of the comparison
        return {**record, "status": "failed", "error": _first_line(e), "times": times}
    return {**record, "status": "released", "times": times, "releases": releases}


def main(argv: list[str] | None = None) -> int:
    system, spec_path = argv if argv is not None else sys.argv[1:]
    spec = json.loads(Path(spec_path).read_text())
    warnings.simplefilter("ignore")
    mod = importlib.import_module(f"bench._peers_{system}")
    t = time.perf_counter()
    handle = mod.setup(spec)
    setup_s = time.perf_counter() - t
    for query in spec["queries"]:
        record = _run_query(mod, handle, query, spec)
        record.update(system=system, version=mod.version(), setup_s=setup_s)
        print(json.dumps(record, default=str), flush=True)
    mod.close(handle)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
