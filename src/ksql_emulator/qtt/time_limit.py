"""A time limit on one QTT variant that shares SIGALRM with whoever set it before.

Only a signal can interrupt a variant stuck in pure Python, and a process has one real-time
timer. A caller such as pytest-timeout may already have its own alarm pending: the limit keeps
that alarm's handler and deadline, hands it the signal when its deadline comes first, and puts
both back afterwards, with the time spent taken off the caller's deadline.
"""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import FrameType
from typing import Any

__all__ = ["TestTimeout", "time_limit"]

# An alarm already due is re-armed this soon: a delay of 0 would disarm the timer.
_DUE_S = 1e-6


class TestTimeout(Exception):
    """The variant ran past its time limit."""

    __test__ = False  # not a pytest test class despite its name


@contextmanager
def time_limit(seconds: float) -> Iterator[None]:
    """Raises `TestTimeout` in the block once it has run `seconds`; outside the main thread,
    where no signal can be handled, the block runs without a limit."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    started = time.monotonic()
    outer_delay_s, outer_interval_s = signal.getitimer(signal.ITIMER_REAL)
    outer_first = 0 < outer_delay_s <= seconds
    previous = signal.getsignal(signal.SIGALRM)
    handed_over = False

    def on_alarm(signum: int, frame: FrameType | None) -> None:
        nonlocal handed_over
        if not outer_first:
            raise TestTimeout(f"took longer than {seconds:g}s")
        # The caller's alarm is due: it is theirs to handle, as if we had never been here.
        handed_over = True
        _put_back(previous)
        if outer_interval_s > 0:
            signal.setitimer(signal.ITIMER_REAL, outer_interval_s, outer_interval_s)
        if callable(previous):
            previous(signum, frame)
        else:
            signal.raise_signal(signum)

    signal.signal(signal.SIGALRM, on_alarm)
    signal.setitimer(signal.ITIMER_REAL, outer_delay_s if outer_first else seconds)
    try:
        yield
    finally:
        if not handed_over:
            signal.setitimer(signal.ITIMER_REAL, 0)
            _put_back(previous)
            if outer_delay_s > 0:
                left_s = outer_delay_s - (time.monotonic() - started)
                signal.setitimer(signal.ITIMER_REAL, max(left_s, _DUE_S), outer_interval_s)


def _put_back(previous: Callable[[int, FrameType | None], Any] | int | None) -> None:
    # None: a handler not installed from Python, which cannot be reinstated; the default
    # action is the closest.
    signal.signal(signal.SIGALRM, signal.SIG_DFL if previous is None else previous)
