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

from enclave.engines.base import too_slow
from enclave.settings import Settings

__all__ = ["DEFAULT_LIMIT_S", "check_deadline", "remaining", "request_limit"]

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
