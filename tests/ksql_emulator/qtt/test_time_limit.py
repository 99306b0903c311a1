"""A QTT variant's time limit stops a runaway variant and leaves the caller's own alarm (such as
pytest-timeout's) in place."""

from __future__ import annotations

import signal
import time
from collections.abc import Iterator
from types import FrameType

import pytest

from ksql_emulator.qtt.time_limit import TestTimeout, time_limit


class OuterAlarm(Exception):
    pass


def _outer(signum: int, frame: FrameType | None) -> None:
    raise OuterAlarm


@pytest.fixture
def outer_alarm() -> Iterator[None]:
    """An alarm of the caller's own, as pytest-timeout's signal method sets one."""
    saved_handler = signal.signal(signal.SIGALRM, _outer)
    saved_timer = signal.setitimer(signal.ITIMER_REAL, 0)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, saved_handler)
        if saved_timer[0] > 0:
            signal.setitimer(signal.ITIMER_REAL, *saved_timer)


def _spin_until(limit_s: float) -> None:
    """Busy Python, as a runaway variant is; never ends on its own within the test."""
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline:
        pass


def test_a_runaway_variant_is_stopped_and_the_callers_alarm_still_pending(
    outer_alarm: None,
) -> None:
    signal.setitimer(signal.ITIMER_REAL, 60)
    with pytest.raises(TestTimeout, match=r"took longer than 0\.05s"), time_limit(0.05):
        _spin_until(30)
    assert signal.getsignal(signal.SIGALRM) is _outer
    left_s, _ = signal.getitimer(signal.ITIMER_REAL)
    assert 0 < left_s < 60  # re-armed, less the time the variant took


def test_a_variant_within_its_limit_leaves_the_callers_alarm_and_handler_as_they_were(
    outer_alarm: None,
) -> None:
    signal.setitimer(signal.ITIMER_REAL, 60)
    with time_limit(5):
        pass
    assert signal.getsignal(signal.SIGALRM) is _outer
    assert signal.getitimer(signal.ITIMER_REAL)[0] > 55


def test_the_callers_alarm_due_first_goes_to_the_callers_handler(outer_alarm: None) -> None:
    signal.setitimer(signal.ITIMER_REAL, 0.05)
    with pytest.raises(OuterAlarm), time_limit(30):
        _spin_until(30)
    assert signal.getsignal(signal.SIGALRM) is _outer
    assert signal.getitimer(signal.ITIMER_REAL)[0] == 0  # it went off once, as it would have


def test_without_a_callers_alarm_none_is_left_behind(outer_alarm: None) -> None:
    with pytest.raises(TestTimeout), time_limit(0.05):
        _spin_until(30)
    assert signal.getitimer(signal.ITIMER_REAL)[0] == 0
    assert signal.getsignal(signal.SIGALRM) is _outer
