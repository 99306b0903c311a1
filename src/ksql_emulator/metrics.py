"""The per-query metrics the Kafka layer counts and the REST server exposes at `/metrics`, in
Prometheus's text format: records in and out and processing time of each persistent query.

ksqlDB itself reports these through JMX; the emulator serves them where Prometheus scrapes.
Queries that run in a query process (see `app.query_processes`) are counted there; the process
sends their samples to the server (`query_samples`), which serves them beside its own
(`set_remote_samples`).
"""

from __future__ import annotations

import threading
from collections.abc import Collection, Iterator

from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, Counter, Histogram, generate_latest
from prometheus_client.metrics_core import Metric
from prometheus_client.samples import Sample

__all__ = [
    "CONTENT_TYPE",
    "QueryMetrics",
    "Samples",
    "exposition",
    "query_samples",
    "set_remote_samples",
]

# Metric family name -> its samples: what one process sends another.
Samples = dict[str, list[Sample]]

CONTENT_TYPE = CONTENT_TYPE_LATEST

_IN = "ksql_emulator_query_records_in"
_OUT = "ksql_emulator_query_records_out"
_SECONDS = "ksql_emulator_query_processing_seconds"

_RECORDS_IN = Counter(
    _IN,
    "Records a persistent query read from its source topics.",
    ["query_id"],
)
_RECORDS_OUT = Counter(
    _OUT,
    "Records a persistent query wrote to its sink topic.",
    ["query_id"],
)
_PROCESSING_SECONDS = Histogram(
    _SECONDS,
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
        if records_out:  # most batches of a filter write nothing
            self._out.inc(records_out)
        self._seconds.observe(seconds)


_remote: dict[int, Samples] = {}
_remote_guard = threading.Lock()


def query_samples(query_ids: Collection[str]) -> Samples:
    """This process's samples of the per-query metrics of `query_ids`."""
    found: Samples = {}
    # These three only: the whole registry's collection also reads /proc for the process
    # metrics, a millisecond each time a query process reports (twice a second).
    for family in (*_RECORDS_IN.collect(), *_RECORDS_OUT.collect(), *_PROCESSING_SECONDS.collect()):
        found[family.name] = [s for s in family.samples if s.labels.get("query_id") in query_ids]
    return found


def set_remote_samples(host: int, samples: Samples) -> None:
    """The latest samples of the queries another process (`host`) runs, served from now on."""
    with _remote_guard:
        _remote[host] = samples


class _WithRemote:
    """The default registry's families, each with the other processes' samples added."""

    def collect(self) -> Iterator[Metric]:
        with _remote_guard:
            remote = list(_remote.values())
        for family in REGISTRY.collect():
            for samples in remote:
                family.samples.extend(samples.get(family.name, ()))
            yield family


def exposition() -> bytes:
    """Every metric of this process, and of its query processes, in Prometheus's text format."""
    return generate_latest(_WithRemote())
