"""The backend the REST server and the Kafka layer drive (`contracts.backend.KsqlBackend`):
statements, pull and push queries, persistent queries as tasks, over the engine."""

from __future__ import annotations

from ksql_emulator.service.ksql_service import KsqlService
from ksql_emulator.service.tasks import GatewayBroker

__all__ = ["GatewayBroker", "KsqlService"]
