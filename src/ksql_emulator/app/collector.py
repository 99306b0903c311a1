"""The cyclic garbage collector, set for a server whose state stores hold millions of objects.

Every record allocates a few short-lived containers. At CPython's default thresholds the
collector ran every few hundred records and, as window stores grew, its older generations'
passes walked all of them: about a third of a busy server's time. With fewer, larger passes the
middle generation grew to millions of objects and its passes paused the stream for 0.2 to 1.2 s
(an alert waits through them: at 1,000 transactions a second they were the whole p99).

Records' garbage is freed by reference counting anyway; the collector is only for reference
cycles, which the engine's per-record work does not make (measured on a busy server: middle and
old collections freed nothing). So only young collections run, every 50,000 allocations, each a
walk of the newest objects; what survives one is never walked again. The cost is that a cycle
among objects that had already lived through a collection is never freed.

Young collections also run on a clock, four times a second. CPython counts allocations minus
deallocations towards the threshold, and frees of old objects count too: while windows expire
(a store deleting thousands of old windows after stream time jumps) the count stayed below the
threshold for ten seconds while the young generation grew to 400,000 objects, and the one
collection that finally came paused the stream for 0.4-0.7 s (every alert of that moment
waited through it). On the clock, a young generation holds at most a quarter-second of
allocations.
"""

from __future__ import annotations

import gc
import threading
import time

__all__ = ["tune_garbage_collector"]

_YOUNG = 50_000
# Thresholds no server reaches: the older generations are never collected.
_NEVER = 2**30
_CLOCK_S = 0.25
_clock_started = threading.Event()


def tune_garbage_collector() -> None:
    """Sets the collector for a long-running server (process-wide; call once, at start)."""
    gc.collect()
    gc.freeze()  # what was allocated to start the server is set aside for good
    gc.set_threshold(_YOUNG, _NEVER, _NEVER)
    if not _clock_started.is_set():
        _clock_started.set()
        threading.Thread(target=_young_on_a_clock, name="young-collections", daemon=True).start()


def _young_on_a_clock() -> None:
    while True:
        time.sleep(_CLOCK_S)
        gc.collect(0)
