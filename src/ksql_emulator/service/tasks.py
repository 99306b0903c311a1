"""What the Kafka layer runs: the gateway as the engine's broker, persistent queries as tasks."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ksql_emulator.catalog import Source
from ksql_emulator.contracts import backend as api
from ksql_emulator.contracts.message import Message
from ksql_emulator.runtime.topology import RunningQuery
from ksql_emulator.service.windowed_keys import Windowing, folder, from_wire

__all__ = ["GatewayBroker"]


class GatewayBroker:
    """The engine's broker interface over the Kafka layer's gateway: the Kafka layer, not the
    broker, feeds queries, so subscriptions are no-ops."""

    def __init__(self, gateway: api.KafkaGateway) -> None:
        self.gateway = gateway
        self.topics: dict[str, list[Message]] = {}

    def create_topic(self, name: str, partitions: int = 1) -> None:
        self.gateway.create_topic(name, partitions, 1, {})

    def subscribe(self, topic: str, reader: Any) -> None:
        del topic, reader

    def unsubscribe(self, reader: Any) -> None:
        del reader

    def produce(self, msg: Message) -> None:
        self.gateway.produce(msg)

    def topic_shape(self, name: str) -> tuple[int, int] | None:
        for info in self.gateway.list_topics():
            if info.name == name:
                return info.partitions, info.replication
        return None


@dataclass
class _Task:
    """A persistent query as the Kafka layer runs it."""

    running: RunningQuery
    properties: Mapping[str, Any]
    # Windowed topics' key layouts: the runtime keeps windows beside keys, Kafka inside them.
    inputs: Mapping[str, Windowing] = field(default_factory=dict)
    sink: Windowing | None = None
    # Whether the sink is a table (its records are updates of keys, not events).
    table_sink: bool = False
    # Which run of the query id this is: a TERMINATEd id created again is a new run.
    generation: int = 0
    # PAUSE: the Kafka layer stops consuming for the query and keeps its place.
    paused: bool = False

    def __post_init__(self) -> None:
        self._fold = None if self.sink is None else folder(self.sink)

    @property
    def stateful(self) -> bool:
        return self.running.stateful

    @property
    def query_id(self) -> str:
        return self.running.query_id

    @property
    def source_topics(self) -> Sequence[str]:
        return self.running.source_topics

    @property
    def windowed_sinks(self) -> Mapping[str, int]:
        """Sink topic -> the bytes its window adds to each key (see QueryTask)."""
        if self.sink is None or not self.running.sink_topic:
            return {}
        return {self.running.sink_topic: 16 if self.sink.session else 8}

    @property
    def table_sinks(self) -> frozenset[str]:
        """The sink topic when the sink is a table's (see QueryTask)."""
        if not self.table_sink or not self.running.sink_topic:
            return frozenset()
        return frozenset((self.running.sink_topic,))

    def process(self, msg: Message) -> Sequence[Message]:
        # Only a source read as windowed splits its key bytes; a windowed sink's window goes
        # into each key as the sink encodes the row (`_fold`), not through a second message.
        windowing = self.inputs.get(msg.topic) if self.inputs else None
        if windowing is not None:
            msg = from_wire(msg, windowing)
        return self.running.process(msg, self._fold)

    def process_many(
        self, msgs: Sequence[Message], *, alone: bool = False
    ) -> list[Sequence[Message]]:
        """`process` for each of `msgs`, all of one topic (see `RunningQuery.process_many`)."""
        windowing = self.inputs.get(msgs[0].topic) if self.inputs and msgs else None
        if windowing is not None:
            msgs = [from_wire(msg, windowing) for msg in msgs]
        return self.running.process_many(msgs, self._fold, alone=alone)

    def bind_stores(self, wrap: Callable[[str, Any], Any]) -> bool:
        return self.running.bind_stores(wrap)


def input_windowing(query: RunningQuery) -> dict[str, Windowing]:
    """The key layout of each topic `query` reads as windowed (a persistent or a push query)."""
    return {
        topic: windowing
        for topic, source in query.input_sources.items()
        if (windowing := _windowing(source)) is not None
    }


def _windowing(source: Source | None) -> Windowing | None:
    if source is None or not source.window_type:
        return None
    return Windowing(source.window_type, source.window_size_ms)
