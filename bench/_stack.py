"""A Kafka broker for a benchmark: the one named on the command line, or a throwaway local stack."""

from __future__ import annotations

import gc
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from streamguard import stack
from streamguard.stack.processes import free_port


@contextmanager
def local_parts(
    bootstrap: str | None, database_url: str | None = None
) -> Iterator[tuple[str, str]]:
    """(bootstrap servers, database URL): the given ones, or a fresh local stack's."""
    if bootstrap and database_url:
        yield bootstrap, database_url
        return
    with tempfile.TemporaryDirectory(prefix="streamguard-bench-") as tmp:
        state_dir = Path(tmp)
        try:
            state = stack.up(
                state_dir, kafka_port=free_port(), postgres_port=free_port(), with_ksqldb=False
            )
            yield (
                bootstrap or state.part("kafka").url or "",
                database_url or state.part("postgres").url or "",
            )
        finally:
            # Kafka clients caught in reference cycles (a producer whose delivery callback is
            # its owner's method) are destroyed by the collector only: destroyed after the broker
            # stops, each logs its refused reconnects over the benchmark's figures.
            gc.collect()
            stack.down(state_dir, purge=True)
