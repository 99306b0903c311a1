"""An in-memory broker: topics as lists, and delivery of each new message to its readers."""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from typing import Protocol

from ksql_emulator.contracts.message import Message

__all__ = ["Broker", "InMemoryBroker", "Reader"]

Reader = Callable[[Message], list[Message]]


class Broker(Protocol):
    """What the engine asks of the topics its statements write and its queries read: the
    in-memory broker in process, the Kafka gateway behind the server."""

    def create_topic(self, name: str, partitions: int = 1) -> None: ...

    def subscribe(self, topic: str, reader: Reader) -> None: ...

    def unsubscribe(self, reader: Reader) -> None: ...

    def produce(self, msg: Message) -> None: ...

    def topic_shape(self, name: str) -> tuple[int, int] | None:
        """(partitions, replicas) of a topic, None when it does not exist (ASSERT TOPIC)."""
        ...


class InMemoryBroker:
    """Holds every topic's messages; a produced message is run through the queries reading it,
    breadth-first, so downstream queries see records in the order they were written."""

    def __init__(self) -> None:
        self.topics: dict[str, list[Message]] = {}
        self.partitions: dict[str, int] = {}
        self.readers: dict[str, list[Reader]] = {}

    def create_topic(self, name: str, partitions: int = 1) -> None:
        self.topics.setdefault(name, [])
        self.partitions.setdefault(name, partitions)

    def topic_shape(self, name: str) -> tuple[int, int] | None:
        if name not in self.topics:
            return None
        return self.partitions.get(name, 1), 1

    def subscribe(self, topic: str, reader: Reader) -> None:
        self.readers.setdefault(topic, []).append(reader)

    def unsubscribe(self, reader: Reader) -> None:
        for readers in self.readers.values():
            if reader in readers:
                readers.remove(reader)

    def produce(self, msg: Message) -> None:
        pending = deque([msg])
        while pending:
            m = pending.popleft()
            log = self.topics.setdefault(m.topic, [])
            m = m._replace(offset=len(log))
            log.append(m)
            for reader in list(self.readers.get(m.topic, [])):
                pending.extend(reader(m))
