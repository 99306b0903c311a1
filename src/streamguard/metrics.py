"""Prometheus metrics of the producer and the consumer, and the HTTP endpoint that serves them.

Each process serves its own metrics on `--metrics-port` (off unless given; 0 picks a free port).
The names are the contract with `docker/grafana/dashboards/streamguard.json`, whose every query a
test checks against what these endpoints expose.
"""

from __future__ import annotations

from typing import Annotated

import typer
from prometheus_client import Counter, Gauge, Histogram, start_http_server

__all__ = [
    "ALERTS_CONSUMED",
    "BATCH_UPSERT_SECONDS",
    "CONSUMER_LAG",
    "DETECTION_LATENCY_SECONDS",
    "DLQ_MESSAGES",
    "TRANSACTIONS_FAILED",
    "TRANSACTIONS_SENT",
    "MetricsHost",
    "MetricsPort",
    "serve",
]

TRANSACTIONS_SENT = Counter(
    "streamguard_transactions_sent", "Transactions the producer handed to Kafka."
)
TRANSACTIONS_FAILED = Counter(
    "streamguard_transactions_failed", "Transactions the broker did not acknowledge."
)
ALERTS_CONSUMED = Counter(
    "streamguard_alerts_consumed",
    "Alerts the consumer wrote to PostgreSQL, by rule and by severity after enrichment.",
    ["rule_id", "severity"],
)
DLQ_MESSAGES = Counter(
    "streamguard_dlq_messages", "Messages the consumer sent to the dead-letter topic."
)
BATCH_UPSERT_SECONDS = Histogram(
    "streamguard_batch_upsert_seconds",
    "Time to upsert one batch of alerts into PostgreSQL.",
    buckets=(0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)
CONSUMER_LAG = Gauge(
    "streamguard_consumer_lag",
    "Alerts on a partition not yet read by the consumer (end offset minus position).",
    ["topic", "partition"],
)
DETECTION_LATENCY_SECONDS = Histogram(
    "streamguard_detection_latency_seconds",
    "From a transaction's event time (the alert's EVENT_TIME) to its alert written to PostgreSQL.",
    buckets=(0.1, 0.25, 0.5, 1.0, 2.0, 3.0, 5.0, 10.0, 20.0, 30.0, 60.0, 120.0, 300.0),
)


def serve(port: int, host: str = "127.0.0.1") -> int:
    """Serve this process's metrics at http://HOST:PORT/metrics; returns the port bound (0 picks
    a free one)."""
    server, _thread = start_http_server(port, addr=host)
    return int(server.server_port)


# The two options of every command that serves metrics.
MetricsPort = Annotated[
    int | None,
    typer.Option(
        min=0,
        max=65535,
        help="Serve Prometheus metrics at http://HOST:PORT/metrics (0: a free port, printed "
        "at start) \\[default: no metrics].",
        show_default=False,
    ),
]
MetricsHost = Annotated[
    str, typer.Option(help="Address the metrics endpoint listens on (0.0.0.0 in containers).")
]
