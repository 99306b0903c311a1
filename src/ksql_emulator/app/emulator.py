"""Wiring one emulator: Kafka gateway, backend, command topic replay, queries, REST state."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ksql_emulator.app.query_processes import QueryProcesses, WorkerConfig, process_count
from ksql_emulator.contracts.backend import KafkaGateway, KsqlBackend
from ksql_emulator.kafka.command_log import CommandTopic
from ksql_emulator.kafka.gateway import ConfluentGateway
from ksql_emulator.kafka.push_feed import KafkaPushFeeder
from ksql_emulator.kafka.query_runner import QueryRunner
from ksql_emulator.server._state import ServerConfig, ServerState
from ksql_emulator.service import KsqlService

__all__ = ["BackendFactory", "Emulator", "EmulatorSettings", "default_backend_factory"]

log = logging.getLogger(__name__)

BackendFactory = Callable[[KafkaGateway, Mapping[str, str]], KsqlBackend]

# Client settings that must reach every Kafka client the emulator makes (security, mostly).
_CLIENT_PREFIXES = ("security.", "sasl.", "ssl.", "client.")


@dataclass
class EmulatorSettings:
    bootstrap_servers: str
    host: str = "127.0.0.1"
    port: int = 8088
    service_id: str = "default_"
    properties: dict[str, str] = field(default_factory=dict)

    def client_config(self) -> dict[str, str]:
        return {k: v for k, v in self.properties.items() if k.startswith(_CLIENT_PREFIXES)}


def default_backend_factory(gateway: KafkaGateway, properties: Mapping[str, str]) -> KsqlBackend:
    """The backend the `ksql-emulator` server runs, reaching Kafka through `gateway`."""
    return KsqlService(gateway, dict(properties))


class Emulator:
    """Everything behind the REST app; `start` replays the command topic before serving."""

    def __init__(
        self, settings: EmulatorSettings, backend_factory: BackendFactory = default_backend_factory
    ) -> None:
        self.settings = settings
        self.lock = threading.RLock()
        extra = settings.client_config()
        self.gateway = ConfluentGateway(settings.bootstrap_servers, extra)
        properties = {"ksql.service.id": settings.service_id, **settings.properties}
        self.backend = backend_factory(self.gateway, properties)
        self.commands = CommandTopic(
            self.gateway,
            settings.bootstrap_servers,
            settings.service_id,
            extra,
            replication=int(properties.get("ksql.internal.topic.replicas", "1")),
        )
        count = process_count(properties)
        self.processes: QueryProcesses | None = None
        if count > 1:
            self.processes = QueryProcesses(
                count - 1,
                WorkerConfig(
                    settings.bootstrap_servers,
                    settings.service_id,
                    properties,
                    extra,
                    logging.getLogger().getEffectiveLevel(),
                ),
            )
        self.runner = QueryRunner(
            self.backend.persistent_queries,
            settings.bootstrap_servers,
            settings.service_id,
            self.lock,
            properties,
            extra,
            remote=self.processes,
        )
        self.feeder = KafkaPushFeeder(
            settings.bootstrap_servers, settings.service_id, self.lock, extra
        )
        config = ServerConfig(
            service_id=settings.service_id,
            host=settings.host,
            port=settings.port,
            properties=properties,
        )
        self.state = ServerState(
            self.backend,
            config,
            feeder=self.feeder,
            command_log=self.commands,
            reconciler=self.runner,
            engine_lock=self.lock,
        )

    def start(self) -> Emulator:
        """Creates the command topic if needed, replays it, then starts the queries."""
        self.commands.ensure()
        if self.processes is not None:
            self.processes.start()  # they replay the command topic beside this one
        self.state.config.kafka_cluster_id = self.gateway.cluster_id()
        replayed = failed = 0
        for offset, command in self.commands.read_all():
            with self.lock:
                try:
                    self.backend.replay(command)
                    replayed += 1
                except Exception as exc:  # ksqlDB skips a command that no longer applies
                    failed += 1
                    log.warning("command %d (%s) not replayed: %s", offset, command.command_id, exc)
            self.state.command_statuses[command.command_id] = {
                "status": "SUCCESS",
                "message": "",
            }
        if replayed or failed:
            log.info("replayed %d commands (%d skipped)", replayed, failed)
        self.runner.reconcile()
        return self

    def close(self) -> None:
        self.runner.close()
        if self.processes is not None:
            self.processes.close()
        with self.lock:
            self.backend.close()
        self.commands.close()
        self.gateway.close()

    def __enter__(self) -> Emulator:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.close()
