"""Every ε used is an ε charged: the privacy loss of what actually ran, checked before release.

Each noise function hands OpenDP's privacy map of the measurement it built and ran to a
recorder (``Losses.recorder(piece_id)`` for (ε, δ), ``Losses.rho_recorder(piece_id)`` for
the ρ of a discrete Gaussian). Before the pipeline commits a release,
``verify_losses`` recomputes the query's loss from those measurements and compares it with
the plan: every Laplace, threshold and auto-bound piece of the plan ran exactly once, no
piece ran that the plan does not list, no piece used more than its share, and the total ε
and δ are at most what was charged. Anything else is a bug (``InternalError``), and
nothing is released — the same check Tumult's compiler makes between the privacy function
of the measurement it built and the budget it charged.

Under zcdp accounting (``rho_split`` given) the same checks run in ρ: a Gaussian piece's
ρ is its map's, a pure ε-DP piece's is ε²/2 (``enclave.policy.pure_rho``, what OpenDP's
``make_pureDP_to_zCDP`` maps it to), each within its ρ share, their sum within the ρ
charged; δ (noisy thresholds) adds up as under pure accounting.

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
from enclave.noise import Record, RhoRecord
from enclave.policy import pure_rho

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

    def rho_recorder(self, piece: str) -> RhoRecord:
        def record(rho: float) -> None:
            if piece in self.by_piece:
                raise InternalError("a Gaussian measurement ran twice (probably a bug)")
            self.by_piece[piece] = Measurement(piece, 0.0, 0.0, rho=rho)

        return record

    def measurements(self) -> tuple[Measurement, ...]:
        return tuple(self.by_piece.values())


def _verify_rho(
    rho_split: Mapping[str, float], rho: float, delta: float, ran: Mapping[str, Measurement]
) -> None:
    """The zcdp checks: every piece's ρ within its share, their sum within the charge."""
    used = {piece: m.rho + pure_rho(m.epsilon) for piece, m in ran.items()}
    for piece, r in used.items():
        if r > rho_split[piece] * (1 + _SLACK):
            raise InternalError("a measurement used more ρ than its share (probably a bug)")
    if sum(used.values()) > rho * (1 + _SLACK):
        raise InternalError("the measurements used more ρ than was charged (probably a bug)")
    if sum(m.delta for m in ran.values()) > delta * (1 + _SLACK):
        raise InternalError("the measurements used more δ than was charged (probably a bug)")


def verify_losses(
    split: Mapping[str, float],
    epsilon: float,
    delta: float,
    measurements: Iterable[Measurement],
    *,
    parallel: Iterable[str] = (),
    optional: Iterable[str] = (),
    rho_split: Mapping[str, float] | None = None,
    rho: float = 0.0,
) -> None:
    """Raise InternalError unless the measurements that ran fit the plan and its charge.

    ``parallel`` pieces (per-group quantiles) may run once per group; ``optional`` pieces
    may not run at all (a quantile over no released group). With ``rho_split`` (a zcdp
    plan) the losses are checked in ρ against it and ``rho``.

    >>> ran = [Measurement("a0", 0.0, rho=0.02), Measurement("rows_bound", 0.2)]
    >>> verify_losses({"a0": 0.9, "rows_bound": 0.1}, 1.0, 0.0, ran,
    ...               rho_split={"a0": 0.02, "rows_bound": 0.02}, rho=0.04)
    >>> verify_losses({"a0": 1.0}, 1.0, 0.0, [Measurement("a0", 0.0, rho=0.03)],
    ...               rho_split={"a0": 0.02}, rho=0.02)
    Traceback (most recent call last):
    ...
    enclave.errors.InternalError: a measurement used more ρ than its share (probably a bug)
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
    if rho_split is not None:
        _verify_rho(rho_split, rho, delta, ran)
        return
    for piece, m in ran.items():
        if m.epsilon > split[piece] * (1 + _SLACK):
            raise InternalError("a measurement used more ε than its share (probably a bug)")
    if sum(m.epsilon for m in ran.values()) > epsilon * (1 + _SLACK):
        raise InternalError("the measurements used more ε than was charged (probably a bug)")
    if sum(m.delta for m in ran.values()) > delta * (1 + _SLACK):
        raise InternalError("the measurements used more δ than was charged (probably a bug)")
