"""Logged stores: what a commit writes to a changelog, and what a restore rebuilds from it."""

from __future__ import annotations

from decimal import Decimal

from ksql_emulator.runtime.state.logged import LoggedKeyValueStore, LoggedWindowStore


def test_a_commit_logs_each_changed_key_once_with_its_latest_value() -> None:
    store = LoggedKeyValueStore()
    store.put(("a", 0), ([1], 10))
    store.put(("a", 0), ([2], 11))
    store.put(("b", 0), ([1], 12))
    first = store.drain()
    assert len(first) == 2
    assert store.drain() == []  # nothing changed since
    store.put(("b", 0), None)
    (tombstone,) = store.drain()
    assert tombstone[1] is None


def test_a_store_restored_from_its_changelog_equals_the_one_that_wrote_it() -> None:
    store = LoggedKeyValueStore()
    changelog = []
    store.put(("acct", 60_000), ([3, Decimal("12.50"), {"x", "y"}], 61_000))
    store.put(("gone", 0), ([1], 5))
    changelog += store.drain()
    store.put(("acct", 60_000), ([4, Decimal("20.00"), {"x"}], 62_000))
    store.put(("gone", 0), None)
    changelog += store.drain()

    restored = LoggedKeyValueStore()
    for key, value in changelog:
        restored.restore(key, value)
    assert dict(restored.items()) == dict(store.items())
    assert restored.drain() == []  # restoring is not a change to log again


def test_a_window_store_round_trips_through_its_changelog() -> None:
    store = LoggedWindowStore()
    store.put(("k",), 0, 1)
    store.put(("k",), 60_000, 2)
    restored = LoggedWindowStore()
    for key, value in store.drain():
        restored.restore(key, value)
    assert list(restored.fetch(("k",))) == [(0, 1), (60_000, 2)]
    restored.reset()
    assert list(restored.fetch(("k",))) == []
