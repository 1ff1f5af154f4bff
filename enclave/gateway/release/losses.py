"""Every ε used is an ε charged: the privacy loss of what actually ran, checked before release.

Each noise function hands OpenDP's privacy map of the measurement it built and ran to a
recorder (``Losses.recorder(piece_id)``). Before the pipeline commits a release,
``verify_losses`` recomputes the query's loss from those measurements and compares it with
the plan: every Laplace, threshold and auto-bound piece of the plan ran exactly once, no
piece ran that the plan does not list, no piece used more than its share, and the total ε
and δ are at most what was charged. Anything else is a bug (``InternalError``), and
nothing is released — the same check Tumult's compiler makes between the privacy function
of the measurement it built and the budget it charged.

>>> from enclave.gateway.values import Measurement
>>> verify_losses({"a0": 0.5, "a1": 0.5}, 1.0, 0.0, [Measurement("a0", 0.5), Measurement("a1", 0.5)])
>>> verify_losses({"a0": 0.5}, 0.5, 0.0, [Measurement("a0", 0.5), Measurement("a0x", 0.5)])
Traceback (most recent call last):
...
enclave.errors.InternalError: a measurement ran that the plan does not list (probably a bug)
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from enclave.errors import InternalError
from enclave.gateway.values import Measurement
from enclave.noise import Record

__all__ = ["Losses", "verify_losses"]

#: relative slack for float rounding between a planned share and OpenDP's map of it
_SLACK = 1e-9


class Losses:
    """The privacy loss of every measurement that ran, per piece (OpenDP privacy maps)."""

    def __init__(self, already: Sequence[Measurement] = ()) -> None:
        self.by_piece: dict[str, Measurement] = {m.piece: m for m in already}

    def recorder(self, piece: str) -> Record:
        def record(epsilon: float, delta: float) -> None:
            old = self.by_piece.get(piece)
            if old is None:
                self.by_piece[piece] = Measurement(piece, epsilon, delta)
            else:  # per-group quantiles of one piece: parallel, so the largest counts
                self.by_piece[piece] = Measurement(
                    piece, max(old.epsilon, epsilon), max(old.delta, delta), old.runs + 1
                )

        return record

    def measurements(self) -> tuple[Measurement, ...]:
        return tuple(self.by_piece.values())


def verify_losses(
    split: Mapping[str, float],
    epsilon: float,
    delta: float,
    measurements: Iterable[Measurement],
    *,
    parallel: Iterable[str] = (),
    optional: Iterable[str] = (),
) -> None:
    """Raise InternalError unless the measurements that ran fit the plan and its charge.

    ``parallel`` pieces (per-group quantiles) may run once per group; ``optional`` pieces
    may not run at all (a quantile over no released group).
    """
    ran = {m.piece: m for m in measurements}
    parallel_ids, optional_ids = set(parallel), set(optional)
    if set(ran) - set(split):
        raise InternalError("a measurement ran that the plan does not list (probably a bug)")
    missing = set(split) - set(ran) - optional_ids
    if missing:
        raise InternalError("a planned measurement did not run (probably a bug)")
    for piece, m in ran.items():
        if m.runs != 1 and piece not in parallel_ids:
            raise InternalError("a measurement ran more than once (probably a bug)")
        if m.epsilon > split[piece] * (1 + _SLACK):
            raise InternalError("a measurement used more ε than its share (probably a bug)")
    if sum(m.epsilon for m in ran.values()) > epsilon * (1 + _SLACK):
        raise InternalError("the measurements used more ε than was charged (probably a bug)")
    if sum(m.delta for m in ran.values()) > delta * (1 + _SLACK):
        raise InternalError("the measurements used more δ than was charged (probably a bug)")
