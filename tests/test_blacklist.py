"""Blacklist entries in real PostgreSQL: add, replace, expire, import, and the cached lookup."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from streamguard import blacklist as bl
from streamguard import db


@pytest.fixture
def engine(database_url: str, db_engine: sa.Engine) -> sa.Engine:
    db.upgrade(database_url)
    return db_engine


def test_add_replace_remove_and_expiry(engine: sa.Engine) -> None:
    past = datetime.now(UTC) - timedelta(minutes=1)
    bl.add(engine, [bl.Entry(bl.Kind.MERCHANT, "MER1", "fraud ring", "ana")])
    bl.add(engine, [bl.Entry(bl.Kind.MERCHANT, "MER1", "fraud ring, confirmed", "bo")])
    bl.add(engine, [bl.Entry(bl.Kind.COUNTRY, "kp", "sanctions", "ana")])
    bl.add(engine, [bl.Entry(bl.Kind.CARD, "C9", "expired", "ana", expires_at=past)])
    active = {(e.kind, e.value): e for e in bl.entries(engine)}
    assert set(active) == {(bl.Kind.MERCHANT, "MER1"), (bl.Kind.COUNTRY, "KP")}
    assert active[(bl.Kind.MERCHANT, "MER1")].reason == "fraud ring, confirmed"
    assert len(bl.entries(engine, include_expired=True)) == 3
    assert bl.remove(engine, bl.Kind.COUNTRY, "KP")
    assert not bl.remove(engine, bl.Kind.COUNTRY, "KP")


def test_an_entry_given_twice_at_once_is_written_once_the_last_one_kept(engine: sa.Engine) -> None:
    # As a CSV listing it twice gives it; `de` and `DE` are one country.
    written = bl.add(
        engine,
        [
            bl.Entry(bl.Kind.ACCOUNT, "A2", "first", "ana"),
            bl.Entry(bl.Kind.COUNTRY, "de", "lower", "ana"),
            bl.Entry(bl.Kind.ACCOUNT, "A2", "second", "bo"),
            bl.Entry(bl.Kind.COUNTRY, "DE", "upper", "bo"),
        ],
    )
    assert (written.added, written.replaced) == (2, 0)
    again = bl.add(engine, [bl.Entry(bl.Kind.ACCOUNT, "A2", "third"), bl.Entry(bl.Kind.CARD, "C2")])
    assert (again.added, again.replaced) == (1, 1)
    active = {(e.kind, e.value): e.reason for e in bl.entries(engine)}
    assert active == {
        (bl.Kind.ACCOUNT, "A2"): "third",
        (bl.Kind.COUNTRY, "DE"): "upper",
        (bl.Kind.CARD, "C2"): "",
    }


def test_entries_that_mean_nothing_are_refused(engine: sa.Engine) -> None:
    with pytest.raises(bl.BlacklistError, match="'Mars' is not an ISO 3166-1"):
        bl.add(engine, [bl.Entry(bl.Kind.COUNTRY, "Mars")])
    with pytest.raises(bl.BlacklistError, match="needs a value"):
        bl.add(engine, [bl.Entry(bl.Kind.CARD, "  ")])
    assert bl.entries(engine, include_expired=True) == []


def test_cache_sees_changes_after_its_reload_interval(engine: sa.Engine) -> None:
    now = [1000.0]
    cache = bl.BlacklistCache(engine, reload_s=2.0, clock=lambda: now[0])
    assert cache.hits([(bl.Kind.ACCOUNT, "A1")]) == []
    bl.add(engine, [bl.Entry(bl.Kind.ACCOUNT, "A1", "mule")])
    now[0] += 1.9
    assert cache.hits([(bl.Kind.ACCOUNT, "A1")]) == []  # within the interval: not read again
    now[0] += 0.1
    assert [h.reason for h in cache.hits([(bl.Kind.ACCOUNT, "A1"), (bl.Kind.CARD, None)])] == [
        "mule"
    ]


def test_import_csv_and_its_errors(engine: sa.Engine, database_url: str, tmp_path: Path) -> None:
    good = tmp_path / "good.csv"
    good.write_text("kind,value,reason,expires_at\naccount,A7,mule,\nmerchant,M3,ring,2099-01-01\n")
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "streamguard.cli",
            "blacklist",
            "import",
            str(good),
            "--database-url",
            database_url,
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert {e.value for e in bl.entries(engine)} == {"A7", "M3"}

    bad = tmp_path / "bad.csv"
    bad.write_text("kind,value\naccount,A8\nplanet,Mars\n")
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "streamguard.cli",
            "blacklist",
            "import",
            str(bad),
            "--database-url",
            database_url,
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 2
    assert "bad.csv:3" in result.stderr and "planet" in result.stderr
    for body, complaint in [
        ("kind,value\naccount,A9,mule\n", "x.csv:2: more values than the header has columns"),
        ("kind,value,expires_at\naccount,A9,2020-01-01\n", "x.csv:2: expiry 2020-01-01T00:00:00"),
    ]:
        with pytest.raises(bl.BlacklistError, match=complaint):
            bl.parse_csv(body.splitlines(keepends=True), source="x.csv", added_by="t")
    # Nothing of a file with a bad row is added.
    assert "A8" not in {e.value for e in bl.entries(engine)}


def test_load_population_loads_what_the_blacklisted_scenario_uses(
    engine: sa.Engine, database_url: str
) -> None:
    from streamguard.producer import Population

    result = subprocess.run(
        [sys.executable, "-m", "streamguard.cli", "blacklist", "load-population", "--seed", "7",
         "--database-url", database_url],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    population = Population.build(7, accounts=3000)  # the producer's, whatever its size
    loaded = {(e.kind.value, e.value) for e in bl.entries(engine)}
    assert loaded == {(r["kind"], r["value"]) for r in population.blacklist_rows()}
    assert {("account", a.account_id) for a in population.blacklisted_accounts} <= loaded
    # Loading twice changes nothing.
    again = subprocess.run(
        [sys.executable, "-m", "streamguard.cli", "blacklist", "load-population", "--seed", "7",
         "--database-url", database_url],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert again.returncode == 0 and len(bl.entries(engine)) == len(loaded)
