"""Stream-stream joins as Kafka Streams runs them (KStreamKStreamJoin + KStreamJoinWindow).

Each side buffers its records in a window store that keeps `before + after + grace` of its own
stream time; a record looks up the other side's store. With an explicit GRACE PERIOD ksqlDB
builds JoinWindows.ofTimeDifferenceAndGrace, whose outer joins hold an unmatched record until
its window closes (then emit it with nulls) instead of emitting it at once; a record too old for
the shared stream time gets its null result at once.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = ["Match", "WindowJoin"]

# ksqlDB's JoinWindows.of(...) without GRACE PERIOD: Kafka Streams' old 24-hour default.
_LEGACY_GRACE_MS = 24 * 60 * 60 * 1000


@dataclass
class Match:
    """One result: the left and right rows (None for a missing side) and its timestamp."""

    key: Any
    left: tuple[Any, ...] | None
    right: tuple[Any, ...] | None
    timestamp: int
    raw_key: Any = None


@dataclass
class _Store:
    rows: dict[Any, list[tuple[int, tuple[Any, ...], Any]]] = field(default_factory=dict)
    stream_time: int = -1


class WindowJoin:
    """`before`/`after`: how far a right record may lie before/after a left record."""

    def __init__(
        self, before: int, after: int, grace: int | None, left_outer: bool, right_outer: bool
    ) -> None:
        self.before = before
        self.after = after
        self.spurious_fix = grace is not None
        self.grace = grace if grace is not None else _LEGACY_GRACE_MS
        self.retention = before + after + self.grace
        self.outer = (left_outer, right_outer)
        self.stores = (_Store(), _Store())
        self.stream_time = -1
        # Unmatched outer records waiting for their window to close: (ts, is_left, key) -> row.
        self.held: dict[tuple[int, bool, Any], tuple[tuple[Any, ...], Any]] = {}

    def process(
        self, is_left: bool, key: Any, raw_key: Any, row: tuple[Any, ...], ts: int
    ) -> list[Match]:
        own, other = (self.stores[0], self.stores[1]) if is_left else self.stores[::-1]
        outer = self.outer[0] if is_left else self.outer[1]
        # How far the other side's records may lie before / after this one.
        early, late = (self.before, self.after) if is_left else (self.after, self.before)
        self.stream_time = max(self.stream_time, ts)
        out: list[Match] = []
        if ts == self.stream_time and self.spurious_fix:
            out += self._emit_closed()
        live_from = other.stream_time - self.retention + 1
        matched = False
        for other_ts, other_row, _ in other.rows.get(key, []):
            if not (ts - early <= other_ts <= ts + late) or other_ts < live_from:
                continue
            matched = True
            self.held.pop((other_ts, not is_left, key), None)
            left, right = (row, other_row) if is_left else (other_row, row)
            out.append(Match(key, left, right, max(ts, other_ts), raw_key))
        if not matched and outer:
            if not self.spurious_fix or ts + late < self.stream_time:
                out.append(self._alone(is_left, key, raw_key, row, ts))
            else:
                self.held[(ts, is_left, key)] = (row, raw_key)
        self._put(own, key, raw_key, row, ts)
        return out

    def _put(self, store: _Store, key: Any, raw_key: Any, row: tuple[Any, ...], ts: int) -> None:
        store.stream_time = max(store.stream_time, ts)
        if ts <= store.stream_time - self.retention:
            return  # the window store drops a record for an expired segment
        store.rows.setdefault(key, []).append((ts, row, raw_key))

    def _emit_closed(self) -> list[Match]:
        out: list[Match] = []
        for entry in sorted(self.held, key=lambda e: (e[0], not e[1])):
            ts, is_left, key = entry
            lookback = self.after if is_left else self.before
            if ts + lookback + self.grace >= self.stream_time:
                break
            row, raw_key = self.held.pop(entry)
            out.append(self._alone(is_left, key, raw_key, row, ts))
        return out

    @staticmethod
    def _alone(is_left: bool, key: Any, raw_key: Any, row: tuple[Any, ...], ts: int) -> Match:
        return Match(key, row if is_left else None, None if is_left else row, ts, raw_key)
