"""Statements about what surrounds the engine: Kafka Connect (connectors), Kafka topics and
Schema Registry (ASSERT), and the cluster-wide configuration (ALTER SYSTEM)."""

from __future__ import annotations

import time
from collections.abc import Callable

from ksql_emulator.engine.base import EngineState, StatementOutcome
from ksql_emulator.errors import KsqlError
from ksql_emulator.parser import tree as t

__all__ = ["AssertionFailedError", "ClusterStatements", "ConnectUnreachableError"]

# ksqlDB's defaults: where it looks for Kafka Connect, how long an ASSERT keeps checking.
DEFAULT_CONNECT_URL = "http://localhost:8083"
DEFAULT_ASSERT_TIMEOUT_MS = 1000
_ASSERT_RETRY_S = 0.1


class ConnectUnreachableError(KsqlError):
    """ksqlDB with no Kafka Connect cluster: every connector statement fails to reach the
    configured `ksql.connect.url`, a KsqlServerException ksqlDB answers as a bad request."""

    error_code = 40000
    generic = True

    def __init__(self, url: str) -> None:
        host = url.split("://", 1)[-1].split("/", 1)[0].split(":", 1)[0]
        address = "127.0.0.1" if host == "localhost" else host
        super().__init__(
            "org.apache.hc.client5.http.HttpHostConnectException: "
            f"Connect to {url} [{host}/{address}] failed: Connection refused\n"
            "Caused by: Could not connect to the server."
        )


class AssertionFailedError(KsqlError):
    """A failed ASSERT: ksqlDB answers 417 Expectation Failed, error code 41700."""

    error_code = 41700
    generic = True


class ClusterStatements:
    """Connectors, ASSERT TOPIC/SCHEMA and ALTER SYSTEM."""

    def __init__(self, state: EngineState) -> None:
        self.state = state

    def connector(self, stmt: t.Statement, text: str) -> StatementOutcome:
        # The emulator runs no Connect worker, so it answers as ksqlDB does when none is there.
        del stmt, text
        raise ConnectUnreachableError(
            self.state.prop("ksql.connect.url", DEFAULT_CONNECT_URL) or ""
        )

    def alter_system(self, stmt: t.AlterSystem, text: str) -> StatementOutcome:
        shared = self.state.prop("ksql.runtime.feature.shared.enabled", "false") or "false"
        if shared.lower() != "true":
            raise KsqlError(
                "Cannot alter system configs when KSQL_SHARED_RUNTIME_ENABLED is turned off."
            )
        self.state.properties[stmt.name] = stmt.value
        return StatementOutcome(stmt, text, f"System property {stmt.name} was set to {stmt.value}.")

    def assert_topic(self, stmt: t.AssertTopic, text: str) -> StatementOutcome:
        def check() -> str | None:
            found = self.state.broker.topic_shape(stmt.topic)
            if not stmt.exists:
                return f"Topic {stmt.topic} exists" if found is not None else None
            if found is None:
                return f"Topic {stmt.topic} does not exist"
            return _config_errors(stmt.topic, dict(stmt.props), *found)

        self._retry_assertion(check, stmt.timeout)
        return StatementOutcome(stmt, text, "", data={"topicName": stmt.topic})

    def assert_schema(self, stmt: t.AssertSchema, text: str) -> StatementOutcome:
        # No Schema Registry is configured for the emulator: the check itself fails.
        del text
        raise AssertionFailedError(
            "Cannot check schema existence: "
            "Cannot use schema registry: no ksql.schema.registry.url is configured"
        )

    def _retry_assertion(self, check: Callable[[], str | None], timeout: t.Duration | None) -> None:
        timeout_ms = (
            timeout.ms
            if timeout is not None
            else int(
                self.state.prop("ksql.assert.topic.default.timeout.ms", None)
                or DEFAULT_ASSERT_TIMEOUT_MS
            )
        )
        deadline = time.monotonic() + timeout_ms / 1000
        while True:
            problem = check()
            if problem is None:
                return
            if time.monotonic() >= deadline:
                raise AssertionFailedError(problem)
            time.sleep(_ASSERT_RETRY_S)


def _config_errors(
    topic: str, config: dict[str, object], partitions: int, replicas: int
) -> str | None:
    errors = []
    for key, expected in config.items():
        actual = {"PARTITIONS": partitions, "REPLICAS": replicas}.get(key.upper())
        if actual is None:
            errors.append(f"Cannot assert unknown topic property: {key}")
        elif not (
            isinstance(expected, int) and not isinstance(expected, bool) and expected == actual
        ):
            errors.append(
                f"Mismatched configuration for topic {topic}: For config {key.lower()}, "
                f"expected {expected} got {actual}"
            )
    return "\n".join(errors) or None
