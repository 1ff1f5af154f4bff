"""One deadline for the whole request: parse → plan → execute → noise → commit.

The engine's own timeout covers only the SQL it runs; Python-side work (per-group
quantiles, noise, post-processing) would otherwise be unbounded. ``answer`` sets
``Requested.deadline`` to ``Settings.query_timeout_s`` from the start of the request;
the pipeline checks it between stages, the engine gets only what is left, and long
Python loops check it as they go. Running out is refused with one message that names the
configured limit only — nothing about how far the request got.

>>> import math
>>> remaining(math.inf) is None
True
"""

from __future__ import annotations

import math
import time
from typing import Any

from enclave.engines.base import Engine, too_slow
from enclave.errors import QueryRejected
from enclave.settings import Settings

__all__ = ["DEFAULT_LIMIT_S", "check_deadline", "remaining", "request_limit", "run_sql"]

#: the limit when a context carries no settings (examples and doctests)
DEFAULT_LIMIT_S = 60.0


def request_limit(settings: Settings | None) -> float:
    """The whole request's time limit: ``Settings.query_timeout_s``."""
    return DEFAULT_LIMIT_S if settings is None else float(settings.query_timeout_s)


def remaining(deadline: float) -> float | None:
    """Seconds left before ``deadline`` (None when there is none)."""
    if math.isinf(deadline):
        return None
    return max(0.0, deadline - time.monotonic())


def check_deadline(deadline: float, limit_s: float) -> None:
    """Raise the timeout refusal once ``deadline`` has passed."""
    if time.monotonic() > deadline:
        raise too_slow(limit_s)  # the engines' own timeout refusal, word for word


def run_sql(
    engine: Engine, sql: str, deadline: float, limit_s: float
) -> tuple[tuple[str, ...], list[tuple[Any, ...]]]:
    """``engine.execute`` with what is left of the request; a refusal once the request's
    time is up is the deadline's (it names the request's limit, whatever the engine's own)."""
    try:
        cols, rows = engine.execute(sql, timeout_s=remaining(deadline))
    except QueryRejected:
        check_deadline(deadline, limit_s)
        raise
    return tuple(cols), list(rows)
