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

from enclave.errors import QueryRejected

__all__ = ["check_deadline", "remaining", "timed_out"]


def timed_out(limit_s: float) -> QueryRejected:
    return QueryRejected(
        f"The query took longer than {limit_s:g} s; narrow the filters or group by fewer keys."
    )


def remaining(deadline: float) -> float | None:
    """Seconds left before ``deadline`` (None when there is none)."""
    if math.isinf(deadline):
        return None
    return max(0.0, deadline - time.monotonic())


def check_deadline(deadline: float, limit_s: float) -> None:
    """Raise the timeout refusal once ``deadline`` has passed."""
    if time.monotonic() > deadline:
        raise timed_out(limit_s)
