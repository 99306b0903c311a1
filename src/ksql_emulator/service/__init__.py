"""The engine as the REST server and Kafka layer call it (server/engine_api.py's KsqlEngine)."""

from __future__ import annotations

from ksql_emulator.service.ksql_service import EngineService
from ksql_emulator.service.tasks import GatewayBroker

__all__ = ["EngineService", "GatewayBroker"]
