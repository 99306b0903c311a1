"""The per-query metrics the Kafka layer counts and the REST server exposes at `/metrics`, in
Prometheus's text format: records in and out and processing time of each persistent query.

ksqlDB itself reports these through JMX; the emulator serves them where Prometheus scrapes.
"""

from __future__ import annotations

from prometheus_client import CONTENT_TYPE_LATEST, Counter, Histogram, generate_latest

__all__ = ["CONTENT_TYPE", "QueryMetrics", "exposition"]

CONTENT_TYPE = CONTENT_TYPE_LATEST

_RECORDS_IN = Counter(
    "ksql_emulator_query_records_in",
    "Records a persistent query read from its source topics.",
    ["query_id"],
)
_RECORDS_OUT = Counter(
    "ksql_emulator_query_records_out",
    "Records a persistent query wrote to its sink topic.",
    ["query_id"],
)
_PROCESSING_SECONDS = Histogram(
    "ksql_emulator_query_processing_seconds",
    "Time a persistent query spent processing one batch of records.",
    ["query_id"],
    buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5),
)


class QueryMetrics:
    """One query's counters, looked up once: a batch then costs three updates."""

    def __init__(self, query_id: str) -> None:
        self._in = _RECORDS_IN.labels(query_id)
        self._out = _RECORDS_OUT.labels(query_id)
        self._seconds = _PROCESSING_SECONDS.labels(query_id)

    def batch(self, records_in: int, records_out: int, seconds: float) -> None:
        self._in.inc(records_in)
        self._out.inc(records_out)
        self._seconds.observe(seconds)


def exposition() -> bytes:
    """Every metric of this process in Prometheus's text format."""
    return generate_latest()
