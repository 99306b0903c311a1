"""The alert consumer: typed, blacklist-enriched alerts into PostgreSQL, bad input to a DLQ.

`loop.AlertConsumer` is the consumer; `enrich` scores an alert. Nothing is imported here, so
that `streamguard`'s other commands start without loading SQLAlchemy and Alembic.
"""
