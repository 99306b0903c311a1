"""Alembic revisions build the schema analysts query, inside whatever schema the URL names."""

from __future__ import annotations

import subprocess
import sys

import sqlalchemy as sa

from streamguard import db


def _names(engine: sa.Engine) -> tuple[set[str], set[str]]:
    inspector = sa.inspect(engine)
    schema = inspector.default_schema_name
    return set(inspector.get_table_names(schema)), set(inspector.get_view_names(schema))


def test_upgrade_creates_tables_and_views_and_downgrade_removes_them(
    database_url: str, db_engine: sa.Engine
) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "streamguard.cli", "db", "upgrade", "--database-url", database_url],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert db.current_revision(database_url) == db.head_revision(database_url)
    tables, views = _names(db_engine)
    assert {"alerts", "blacklist", "alembic_version"} <= tables
    assert {"alerts_per_rule_hourly", "account_risk_profile"} <= views

    db.downgrade(database_url, "base")
    tables, views = _names(db_engine)
    assert tables == {"alembic_version"}
    assert views == set()


def test_current_says_what_to_do(database_url: str) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "streamguard.cli", "db", "current", "--database-url", database_url],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert "current: none" in result.stdout
    assert "streamguard db upgrade" in result.stdout


def _db(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "streamguard.cli", "db", *args],
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_downgrade_takes_a_relative_revision_as_its_help_says(database_url: str) -> None:
    """`-1` was read as an unknown option; an unknown revision was a traceback."""
    db.upgrade(database_url, "head")
    done = _db("downgrade", "-1", "--database-url", database_url)
    assert done.returncode == 0, done.stderr
    assert db.current_revision(database_url) is None
    unknown = _db("downgrade", "nosuch", "--database-url", database_url)
    assert unknown.returncode == 2
    assert unknown.stderr.strip() == (
        "error: revision 'nosuch': Can't locate revision identified by 'nosuch'"
    )
