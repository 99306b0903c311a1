"""Reading back what an output wrote, as a read_committed consumer sees it."""

from __future__ import annotations

import time
import uuid
from typing import Any

from confluent_kafka import Consumer


def read_committed(bootstrap: str, topic: str, count: int) -> list[Any]:
    """The committed records of `topic` from its start: `count` of them (waiting up to 30 s),
    and any that follow within a second more, so that a caller sees an extra record too."""
    reader = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": f"reader-{uuid.uuid4().hex}",
            "auto.offset.reset": "earliest",
            "isolation.level": "read_committed",
        }
    )
    try:
        reader.subscribe([topic])
        got: list[Any] = []
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            msg = reader.poll(0.2)
            if msg is not None and msg.error() is None:
                got.append(msg)
            if len(got) >= count:
                deadline = min(deadline, time.monotonic() + 1.0)
        return got
    finally:
        reader.close()
