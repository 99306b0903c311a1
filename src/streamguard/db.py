"""PostgreSQL: the engine, Alembic's schema migrations, and the tables the application writes."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.dialects import postgresql

metadata = sa.MetaData()

# Mirrors of what migrations/ creates (columns and types); the migrations are the source of truth
# for the schema, and tests/db/test_mirror_tables.py fails when a mirror drifts from them.
alerts = sa.Table(
    "alerts",
    metadata,
    sa.Column("alert_id", sa.Text, primary_key=True),
    sa.Column("rule_id", sa.Text),
    sa.Column("kind", sa.Text),
    sa.Column("severity", sa.Text),
    sa.Column("rule_severity", sa.Text),
    sa.Column("risk_score", sa.SmallInteger),
    sa.Column("account_id", sa.Text),
    sa.Column("transaction_id", sa.Text),
    sa.Column("card_id", sa.Text),
    sa.Column("merchant_id", sa.Text),
    sa.Column("country", sa.Text),
    sa.Column("amount", sa.Numeric(12, 2)),
    sa.Column("txn_count", sa.Integer),
    sa.Column("total_amount", sa.Numeric(14, 2)),
    sa.Column("window_start", sa.DateTime(timezone=True)),
    sa.Column("window_end", sa.DateTime(timezone=True)),
    sa.Column("event_time", sa.DateTime(timezone=True)),
    sa.Column("blacklist_hits", postgresql.JSONB),
    sa.Column("payload", postgresql.JSONB),
    sa.Column("source_topic", sa.Text),
    sa.Column("source_partition", sa.Integer),
    sa.Column("source_offset", sa.BigInteger),
    sa.Column("updates", sa.Integer),
    sa.Column("first_seen_at", sa.DateTime(timezone=True)),
    sa.Column("last_seen_at", sa.DateTime(timezone=True)),
)

blacklist = sa.Table(
    "blacklist",
    metadata,
    sa.Column("id", sa.BigInteger, primary_key=True),
    sa.Column("kind", sa.Text),
    sa.Column("value", sa.Text),
    sa.Column("reason", sa.Text),
    sa.Column("added_by", sa.Text),
    sa.Column("added_at", sa.DateTime(timezone=True)),
    sa.Column("expires_at", sa.DateTime(timezone=True)),
)


def create_engine(url: str) -> sa.Engine:
    return sa.create_engine(url, pool_pre_ping=True)


def error_line(exc: BaseException) -> str:
    """What PostgreSQL or its driver said, first line, from under SQLAlchemy's wrapper: for a
    message a user reads (the rest is a traceback's, or the statement's)."""
    cause = getattr(exc, "orig", None) or exc
    return (str(cause).strip().splitlines() or [type(cause).__name__])[0]


def migrations_dir() -> Path:
    """Alembic's folder: shipped inside the wheel, or the checkout's top-level migrations/."""
    shipped = resources.files("streamguard").joinpath("_migrations")
    if shipped.is_dir():
        return Path(str(shipped))
    return Path(__file__).resolve().parents[2] / "migrations"


def alembic_config(url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(migrations_dir()))
    # ConfigParser interpolation would read a password's % as a reference.
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def upgrade(url: str, revision: str = "head") -> None:
    command.upgrade(alembic_config(url), revision)


def downgrade(url: str, revision: str) -> None:
    command.downgrade(alembic_config(url), revision)


def current_revision(url: str) -> str | None:
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    try:
        with engine.connect() as conn:
            return MigrationContext.configure(conn).get_current_revision()
    finally:
        engine.dispose()


def head_revision(url: str) -> str | None:
    return ScriptDirectory.from_config(alembic_config(url)).get_current_head()
