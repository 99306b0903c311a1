"""Alerts, blacklist entries, and the analysts' views.

Revision ID: 0001
Revises:
Create Date: 2026-11-24
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "alerts",
        # DESIGN.md's alert identity: rule + transaction, or rule + account + window start.
        sa.Column("alert_id", sa.Text, primary_key=True),
        sa.Column("rule_id", sa.Text, nullable=False),
        sa.Column("kind", sa.Text, nullable=False),
        sa.Column("severity", sa.Text, nullable=False),
        sa.Column("rule_severity", sa.Text, nullable=False),
        sa.Column("risk_score", sa.SmallInteger, nullable=False),
        sa.Column("account_id", sa.Text, nullable=False),
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
        sa.Column("blacklist_hits", postgresql.JSONB, nullable=False, server_default="[]"),
        sa.Column("payload", postgresql.JSONB, nullable=False),
        sa.Column("source_topic", sa.Text, nullable=False),
        sa.Column("source_partition", sa.Integer, nullable=False),
        sa.Column("source_offset", sa.BigInteger, nullable=False),
        sa.Column("updates", sa.Integer, nullable=False, server_default="0"),
        sa.Column(
            "first_seen_at",
            sa.DateTime(timezone=True),
            nullable=False,
            server_default=sa.func.now(),
        ),
        sa.Column(
            "last_seen_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
        ),
        sa.CheckConstraint("kind IN ('transaction', 'window')", name="alerts_kind"),
        sa.CheckConstraint("risk_score BETWEEN 0 AND 100", name="alerts_risk_score"),
    )
    op.create_index("alerts_account", "alerts", ["account_id", "event_time"])
    op.create_index("alerts_rule_time", "alerts", ["rule_id", "event_time"])

    op.create_table(
        "blacklist",
        sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
        sa.Column("kind", sa.Text, nullable=False),
        sa.Column("value", sa.Text, nullable=False),
        sa.Column("reason", sa.Text, nullable=False, server_default=""),
        sa.Column("added_by", sa.Text, nullable=False),
        sa.Column(
            "added_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
        ),
        sa.Column("expires_at", sa.DateTime(timezone=True)),
        sa.CheckConstraint(
            "kind IN ('account', 'card', 'merchant', 'country')", name="blacklist_kind"
        ),
        sa.UniqueConstraint("kind", "value", name="blacklist_kind_value"),
    )

    op.execute(
        """
        CREATE VIEW alerts_per_rule_hourly AS
        SELECT date_trunc('hour', coalesce(event_time, window_start)) AS hour,
               rule_id,
               count(*) AS alerts,
               count(DISTINCT account_id) AS accounts,
               round(avg(risk_score), 1) AS avg_risk_score,
               count(*) FILTER (WHERE blacklist_hits <> '[]'::jsonb) AS with_blacklist_hits
        FROM alerts
        GROUP BY 1, 2
        """
    )
    op.execute(
        """
        CREATE VIEW account_risk_profile AS
        SELECT a.account_id,
               count(*) AS alerts,
               count(DISTINCT a.rule_id) AS rules,
               array_agg(DISTINCT a.rule_id ORDER BY a.rule_id) AS rule_ids,
               max(a.risk_score) AS max_risk_score,
               round(avg(a.risk_score), 1) AS avg_risk_score,
               coalesce(sum(a.amount), 0) AS alerted_amount,
               min(coalesce(a.event_time, a.window_start)) AS first_alert_at,
               max(coalesce(a.event_time, a.window_start)) AS last_alert_at,
               EXISTS (
                   SELECT 1 FROM blacklist b
                   WHERE b.kind = 'account' AND b.value = a.account_id
                     AND (b.expires_at IS NULL OR b.expires_at > now())
               ) AS blacklisted
        FROM alerts a
        GROUP BY a.account_id
        """
    )


def downgrade() -> None:
    op.execute("DROP VIEW account_risk_profile")
    op.execute("DROP VIEW alerts_per_rule_hourly")
    op.drop_table("blacklist")
    op.drop_table("alerts")
