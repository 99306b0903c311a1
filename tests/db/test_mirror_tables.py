"""`db.py`'s table mirrors match what the Alembic revisions build, column for column, so the
application never writes a column the migrations lost or renamed."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from streamguard import db

# What a mirror must agree on: the columns and their types. Nullability, defaults, indexes and
# constraints are the migrations' business alone.
_COLUMN_DIFFS = {"add_column", "remove_column", "modify_type", "add_table", "remove_table"}


def _kind(diff: Any) -> str:
    # compare_metadata gives a tuple per change, or a list of tuples per column change.
    return str(diff[0][0] if isinstance(diff, list) else diff[0])


def _drift(engine: sa.Engine) -> list[Any]:
    with engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        diffs = compare_metadata(context, db.metadata)
    mirrored = set(db.metadata.tables)
    out = []
    for diff in diffs:
        if _kind(diff) not in _COLUMN_DIFFS:
            continue
        flat = diff[0] if isinstance(diff, list) else diff
        table = flat[1].name if isinstance(flat[1], sa.Table) else flat[2]
        if table in mirrored:
            out.append(diff)
    return out


def test_the_mirrors_match_the_migrated_schema(database_url: str, db_engine: sa.Engine) -> None:
    db.upgrade(database_url)
    assert _drift(db_engine) == []


def test_a_column_the_migrations_do_not_have_is_caught(
    database_url: str, db_engine: sa.Engine
) -> None:
    db.upgrade(database_url)
    with db_engine.begin() as conn:
        conn.execute(sa.text("ALTER TABLE blacklist DROP COLUMN reason"))
        conn.execute(sa.text("ALTER TABLE alerts ALTER COLUMN txn_count TYPE bigint"))
    kinds = sorted(_kind(d) for d in _drift(db_engine))
    assert kinds == ["add_column", "modify_type"]
