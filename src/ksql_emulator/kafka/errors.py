"""Errors of the Kafka layer; each message names the topic and what to check.

KsqlError
  KafkaLayerError        (a Kafka operation failed: topic, partition or broker named)
"""

from __future__ import annotations

from ksql_emulator.errors import KsqlError

__all__ = ["KafkaLayerError"]


class KafkaLayerError(KsqlError):
    """Raised when the broker refuses or fails an operation the emulator needs."""

    ksql_type = "KafkaException"
