"""Where StreamGuard finds its parts: the environment, the local stack's state, then defaults."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Literal

from pydantic import AliasChoices, Field
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_STATE_DIR = Path(".streamguard")
STACK_STATE_FILE = "stack.json"


class Settings(BaseSettings):
    """StreamGuard's configuration.

    Each field reads `STREAMGUARD_<NAME>`; the three addresses also read their conventional names
    (`KAFKA_BOOTSTRAP_SERVERS`, `KSQLDB_URL`, `DATABASE_URL`). An address left unset is taken from
    the local stack's state file when `streamguard stack up` has written one, so the commands find
    the ports it chose.
    """

    model_config = SettingsConfigDict(env_prefix="STREAMGUARD_", extra="ignore")

    state_dir: Path = DEFAULT_STATE_DIR
    kafka_bootstrap_servers: str | None = Field(
        default=None,
        validation_alias=AliasChoices(
            "STREAMGUARD_KAFKA_BOOTSTRAP_SERVERS", "KAFKA_BOOTSTRAP_SERVERS"
        ),
    )
    ksqldb_url: str | None = Field(
        default=None, validation_alias=AliasChoices("STREAMGUARD_KSQLDB_URL", "KSQLDB_URL")
    )
    database_url: str | None = Field(
        default=None, validation_alias=AliasChoices("STREAMGUARD_DATABASE_URL", "DATABASE_URL")
    )
    transactions_topic: str = "transactions"
    alerts_topic: str = "fraud_alerts"
    dlq_topic: str = "fraud_alerts_dlq"
    consumer_group: str = "streamguard-alerts"
    consumer_instance_id: str | None = None
    # The local stack's ksqlDB emulator: its queries' processing guarantee and commit interval.
    # At-least-once (ksqlDB's default) makes a query's output visible as soon as it is written;
    # the emulator's position markers keep window state exact across a crash, and PostgreSQL's
    # upsert absorbs the repeated alerts. Exactly-once makes each stage wait for its commit.
    # At-least-once output does not wait for commits, so they only bound what a crash replays:
    # once a second, as each commit asks the broker for a few requests per stateful query.
    # Measured trade-offs: README, "The local stack" and "Benchmarks".
    ksql_commit_interval_ms: int = Field(default=1000, ge=1)
    ksql_processing_guarantee: Literal["exactly_once_v2", "at_least_once"] = "at_least_once"
    # How long the emulator may hold a window table's updates (at-least-once) to send them
    # together: at a light load one update per table and transaction was a produce request and
    # a fetch each; held 100 ms, the idle stack's CPU fell by a fifth (10.6% to 8.4% of a core).
    # A window rule's alert comes up to this much later; alerts of per-transaction rules are
    # never held. README, "Benchmarks".
    ksql_table_linger_ms: int = Field(default=100, ge=0)
    # Processes the emulator runs its persistent queries in. One Python process works one core;
    # the emulator shares the machine with the broker, PostgreSQL, the producer and the
    # consumer, which at a steady rate need about as much. Unset: half the cores, 1 to 4.
    # Measured trade-off: README, "Benchmarks".
    ksql_query_processes: int | None = Field(default=None, ge=1)
    # The console's links and extras: Grafana's dashboard, a backtest report's figures.
    grafana_url: str | None = None
    backtest_report: Path | None = None

    def query_processes(self) -> int:
        """`ksql_query_processes`, or its default for this machine."""
        if self.ksql_query_processes is not None:
            return self.ksql_query_processes
        return max(1, min(4, (os.cpu_count() or 1) // 2))

    def stack_state(self) -> dict[str, Any]:
        """The local stack's recorded state, or an empty dict when it has never been started."""
        path = self.state_dir / STACK_STATE_FILE
        try:
            data = json.loads(path.read_text())
        except (FileNotFoundError, json.JSONDecodeError):
            return {}
        return data if isinstance(data, dict) else {}

    @property
    def kafka(self) -> str:
        """Kafka bootstrap servers: explicit, the local stack's broker, or localhost:9092."""
        if self.kafka_bootstrap_servers:
            return self.kafka_bootstrap_servers
        port = self.stack_state().get("kafka", {}).get("port")
        return f"127.0.0.1:{port}" if port else "127.0.0.1:9092"

    @property
    def ksqldb(self) -> str:
        """ksqlDB's REST address: explicit setting, the local emulator, or localhost:8088."""
        if self.ksqldb_url:
            return self.ksqldb_url
        port = self.stack_state().get("ksqldb", {}).get("port")
        return f"http://127.0.0.1:{port}" if port else "http://127.0.0.1:8088"

    @property
    def database(self) -> str:
        """SQLAlchemy URL of PostgreSQL: explicit, the local stack's server, or localhost."""
        if self.database_url:
            return self.database_url
        url = self.stack_state().get("postgres", {}).get("url")
        if isinstance(url, str) and url:
            return url
        return "postgresql+psycopg2://streamguard@127.0.0.1:5432/streamguard"


def get_settings(**overrides: Any) -> Settings:
    """Settings from the environment, with keyword overrides (the CLI's options) on top."""
    return Settings(**{k: v for k, v in overrides.items() if v is not None})
