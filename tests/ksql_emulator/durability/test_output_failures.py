"""A write the broker refuses is never taken as done: the commit that covers it fails, so the
query's positions stay where they were and the records are read again."""

from __future__ import annotations

import uuid

import pytest
from confluent_kafka.admin import AdminClient, NewTopic

from ksql_emulator.kafka.errors import KafkaLayerError
from ksql_emulator.kafka.output import AtLeastOnceOutput, ExactlyOnceOutput

pytestmark = pytest.mark.slow


def _small_topic(admin: AdminClient, name: str) -> str:
    spec = NewTopic(name, num_partitions=1, config={"max.message.bytes": "2000"})
    admin.create_topics([spec])[name].result(30)
    return name


def test_an_at_least_once_commit_fails_when_the_broker_refused_a_write(
    admin: AdminClient, kafka_bootstrap: str
) -> None:
    topic = _small_topic(admin, f"refused-alos-{uuid.uuid4().hex[:8]}")
    output = AtLeastOnceOutput(kafka_bootstrap, {})
    try:
        output.send(topic, b"k", b"fits")
        output.commit()  # a write the broker takes commits
        output.send(topic, b"k", b"x" * 10_000)
        with pytest.raises(KafkaLayerError, match="not acknowledged"):
            output.commit()
        output.send(topic, b"k", b"fits again")
        output.commit()  # the failure was reported once, not carried into the next commit
    finally:
        output.close()


def test_an_exactly_once_commit_fails_when_the_broker_refused_a_write(
    admin: AdminClient, kafka_bootstrap: str
) -> None:
    topic = _small_topic(admin, f"refused-eos-{uuid.uuid4().hex[:8]}")
    output = ExactlyOnceOutput(kafka_bootstrap, {}, f"refused-{uuid.uuid4().hex[:8]}")
    try:
        output.send(topic, b"k", b"x" * 10_000)
        with pytest.raises(KafkaLayerError):
            output.commit()
    finally:
        output.close()


def test_a_commit_in_the_background_reports_a_refused_write_when_it_is_settled(
    admin: AdminClient, kafka_bootstrap: str
) -> None:
    topic = _small_topic(admin, f"refused-bg-{uuid.uuid4().hex[:8]}")
    output = ExactlyOnceOutput(kafka_bootstrap, {}, f"refused-{uuid.uuid4().hex[:8]}")
    try:
        output.send(topic, b"k", b"fits")
        assert output.commit_soon()
        output.settle()
        output.send(topic, b"k", b"x" * 10_000)
        assert output.commit_soon()  # returns at once; the failure comes with the settling
        with pytest.raises(KafkaLayerError, match="could not commit"):
            output.settle()
    finally:
        output.close()
