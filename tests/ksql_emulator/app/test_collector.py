"""The emulator's garbage collector settings, in a process of their own (they are process-wide)."""

from __future__ import annotations

import subprocess
import sys

# A server whose stores delete old windows as fast as they make new ones, as after stream time
# jumps: CPython's collection threshold counts frees of old objects against new allocations, so
# by count alone no young collection comes, and the young generation grows without bound until
# one collection walks all of it (a pause of the whole stream). The loop makes about 350,000
# objects a second, so one clock period (0.25 s) holds about a seventh of them: a tick that
# comes late on a busy machine still stays well under the bound (at 800,000 a second a period
# was a third, and one late tick in CI crossed it).
_EXPIRING_SERVER = """
import gc, time
from ksql_emulator.app.collector import tune_garbage_collector

old = [[n] for n in range(600_000)]
tune_garbage_collector()
kept, largest, made = [], 0, 0
deadline = time.monotonic() + 4.0
while old and time.monotonic() < deadline:
    for _ in range(2_000):
        old.pop()
        kept.append([made])
        made += 1
    time.sleep(0.005)
    if made % 20_000 == 0:
        largest = max(largest, len(gc.get_objects(0)))
print(largest, made)
"""


def test_young_collections_come_while_old_objects_are_freed() -> None:
    out = subprocess.run(
        [sys.executable, "-c", _EXPIRING_SERVER], capture_output=True, text=True, check=True
    ).stdout
    largest, made = map(int, out.split())
    assert made > 200_000
    # Collections on a clock keep the young generation to a fraction of a second's objects;
    # without them it would hold all of them.
    assert largest < made / 3, (largest, made)
