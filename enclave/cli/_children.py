"""Child processes that stop with their parent: ``enclave demo`` and ``enclave dashboards``
forward SIGTERM and SIGINT to the servers they started and wait for them, so nothing is
left listening on a port after the command ends (``enclave serve`` relies on uvicorn,
which does the same for its workers).

>>> import sys, subprocess
>>> child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
>>> stop_children([child], timeout=5)
>>> child.poll() is not None
True
"""

from __future__ import annotations

import contextlib
import signal
import subprocess
import time
from collections.abc import Iterator, Sequence
from types import FrameType

__all__ = ["stop_children", "stop_on_signals", "supervise"]

_SIGNALS = (signal.SIGTERM, signal.SIGINT)


#: signals received inside ``stop_on_signals`` (checked by ``supervise``)
_RECEIVED: list[int] = []


def _note(signum: int, _frame: FrameType | None) -> None:
    _RECEIVED.append(signum)


@contextlib.contextmanager
def stop_on_signals() -> Iterator[None]:
    """Inside, SIGTERM and SIGINT are noted for ``supervise`` instead of ending the process
    at once (so a signal while the children start still stops them)."""
    _RECEIVED.clear()
    old = {s: signal.signal(s, _note) for s in _SIGNALS}
    try:
        yield
    finally:
        for s, handler in old.items():
            signal.signal(s, handler)


def stop_children(procs: Sequence[subprocess.Popen[bytes]], timeout: float = 10) -> None:
    """SIGTERM every child still running, wait ``timeout`` seconds, then SIGKILL."""
    for p in procs:
        if p.poll() is None:
            p.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + timeout
    for p in procs:
        try:
            p.wait(timeout=max(deadline - time.monotonic(), 0.1))
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()


def supervise(procs: Sequence[subprocess.Popen[bytes]]) -> int:
    """Wait (inside ``stop_on_signals``) until a child ends or a signal arrives, then stop
    every child. The exit code: 128 + the signal, or the first child's failure."""
    while not _RECEIVED and all(p.poll() is None for p in procs):
        time.sleep(0.2)
    stop_children(procs)
    if _RECEIVED:
        return 128 + _RECEIVED[0]
    return next((p.returncode for p in procs if p.returncode), 0)
