"""Pacing: a steady rate with optional bursts, on a schedule rather than per-message sleeps."""

from __future__ import annotations

import math
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
        if not sep or burst is None or burst.size <= 0 or not burst.every_s > 0:
            raise ValueError(f"a burst is SIZE@SECONDS, like 500@10; got {text!r}")
        return burst


class Pacer:
    """How many messages may have been sent by now: `rate` a second plus any bursts due.

    Counting against a schedule from the start keeps the long-run rate exact, where sleeping
    a fixed gap after each message would drift by the time each send takes. A rate of 0 or
    less means no limit.
    """

    def __init__(self, rate: float, burst: Burst | None = None, *, started: float | None = None):
        if math.isnan(rate) or math.isinf(rate):
            raise ValueError(f"a rate is a number of messages a second, got {rate}")
        self.rate = rate
        self.burst = burst
        self.started = time.monotonic() if started is None else started

    @property
    def unlimited(self) -> bool:
        return self.rate <= 0

    def allowance(self, now: float | None = None) -> float:
        """Messages due from the start until `now` (infinite when unlimited)."""
        if self.unlimited:
            return math.inf
        elapsed = (time.monotonic() if now is None else now) - self.started
        allowed = self.rate * elapsed
        if self.burst is not None:
            allowed += (elapsed // self.burst.every_s) * self.burst.size
        return allowed

    def due(self, sent: int, now: float | None = None, *, most: int = 1000) -> int:
        """How many more may be sent now, `sent` having gone already; at most `most`."""
        allowed = self.allowance(now)
        if allowed == math.inf:
            return most
        return max(0, min(most, math.floor(allowed) - sent))

    def seconds_until_due(self, sent: int, now: float | None = None) -> float:
        """How long until message number `sent` (counting from 0) is due at the steady rate."""
        if self.unlimited:
            return 0.0
        elapsed = (time.monotonic() if now is None else now) - self.started
        return max(0.0, (sent + 1) / self.rate - elapsed)
