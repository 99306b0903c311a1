"""Alembic's environment for StreamGuard's PostgreSQL schema: online migrations only."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import context

config = context.config
url = config.get_main_option("sqlalchemy.url")
if not url:
    raise RuntimeError("no database URL: set DATABASE_URL or run `streamguard stack up`")

engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
with engine.connect() as connection:
    # Tables go to the first schema of the search path, so a URL can aim at any schema.
    context.configure(connection=connection, transaction_per_migration=True)
    with context.begin_transaction():
        context.run_migrations()
engine.dispose()
