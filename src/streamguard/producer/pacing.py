"""Pacing: a steady rate with optional bursts, on a schedule rather than per-message sleeps."""

from __future__ import annotations

import time
from dataclasses import dataclass


@dataclass(frozen=True)
class Burst:
    """`size` extra messages at full speed every `every_s` seconds."""

    size: int
    every_s: float

    @classmethod
    def parse(cls, text: str) -> Burst:
        """`SIZE@SECONDS`, e.g. `500@10`."""
        size, sep, every = text.partition("@")
        try:
            burst = cls(int(size), float(every))
        except ValueError:
            burst = None
        if not sep or burst is None or burst.size <= 0 or burst.every_s <= 0:
            raise ValueError(f"a burst is SIZE@SECONDS, like 500@10; got {text!r}")
        return burst


class Pacer:
    """How many messages may have been sent by now: `rate` a second plus any bursts due.

    Counting against a schedule from the start keeps the long-run rate exact, where sleeping
    a fixed gap after each message would drift by the time each send takes.
    """

    def __init__(self, rate: float, burst: Burst | None = None) -> None:
        self.rate = rate
        self.burst = burst
        self.started = time.monotonic()

    def allowance(self, now: float | None = None) -> float:
        if self.rate <= 0:
            return float("inf")
        elapsed = (now if now is not None else time.monotonic()) - self.started
        allowed = self.rate * elapsed
        if self.burst is not None:
            allowed += (elapsed // self.burst.every_s) * self.burst.size
        return allowed

    def wait_for(self, sent: int, deadline: float | None = None) -> None:
        """Sleep until message number `sent` (counting from 0) is due, or until `deadline`."""
        while sent >= (allowed := self.allowance()):
            if deadline is not None and time.monotonic() >= deadline:
                return
            time.sleep(min(max((sent + 1 - allowed) / self.rate, 0.0005), 0.05))
