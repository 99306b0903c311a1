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
"""

from __future__ import annotations

import gc

__all__ = ["tune_garbage_collector"]

_YOUNG = 50_000
# Thresholds no server reaches: the older generations are never collected.
_NEVER = 2**30


def tune_garbage_collector() -> None:
    """Sets the collector for a long-running server (process-wide; call once, at start)."""
    gc.collect()
    gc.freeze()  # what was allocated to start the server is set aside for good
    gc.set_threshold(_YOUNG, _NEVER, _NEVER)
