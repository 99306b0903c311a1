"""The real parts work end to end: Kafka carries transactions unchanged, PostgreSQL stores rows."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from decimal import Decimal

import sqlalchemy as sa
from confluent_kafka import Consumer, Producer

from streamguard.models import Transaction

COUNT = 10_000


def _transaction(i: int) -> Transaction:
    return Transaction(
        transaction_id=str(uuid.UUID(int=i + 1)),
        account_id=f"ACC{i % 97:05d}",
        card_id=f"CARD{i % 211:06d}",
        amount=Decimal(f"{(i % 5000) + 1}.{i % 100:02d}"),
        currency="EUR",
        merchant_id=f"M{i % 50:04d}",
        merchant_name="Café Zürich",
        merchant_category="5812",
        country="CH",
        city="Zürich",
        latitude=47.3769,
        longitude=8.5417,
        channel="POS",
        event_time=1_760_000_000_000 + i,
    )


def test_ten_thousand_transactions_round_trip_through_the_broker(
    kafka_bootstrap: str, new_topic: Callable[..., str]
) -> None:
    topic = new_topic("transactions", partitions=3)
    sent = {t.transaction_id: t for t in map(_transaction, range(COUNT))}
    producer = Producer(
        {"bootstrap.servers": kafka_bootstrap, "enable.idempotence": True, "linger.ms": 5}
    )
    failures: list[str] = []
    for txn in sent.values():
        producer.produce(
            topic,
            key=txn.account_id.encode(),
            value=txn.to_json(),
            on_delivery=lambda err, _msg: failures.append(str(err)) if err else None,
        )
        producer.poll(0)
    assert producer.flush(30) == 0
    assert failures == []

    consumer = Consumer(
        {
            "bootstrap.servers": kafka_bootstrap,
            "group.id": f"g-{uuid.uuid4().hex}",
            "auto.offset.reset": "earliest",
        }
    )
    consumer.subscribe([topic])
    received: dict[str, Transaction] = {}
    try:
        idle = 0
        while len(received) < COUNT and idle < 30:
            batch = consumer.consume(1000, timeout=1.0)
            idle = 0 if batch else idle + 1
            for msg in batch:
                assert msg.error() is None
                txn = Transaction.from_json(msg.value())
                # Keyed by account: the key is the account of the value it carries.
                assert msg.key() == txn.account_id.encode()
                received[txn.transaction_id] = txn
    finally:
        consumer.close()
    assert len(received) == COUNT
    assert received == sent


def test_postgres_writes_and_reads_through_sqlalchemy(db_engine: sa.Engine) -> None:
    metadata = sa.MetaData()
    notes = sa.Table(
        "notes",
        metadata,
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("amount", sa.Numeric(12, 2), nullable=False),
        sa.Column("body", sa.Text, nullable=False),
    )
    metadata.create_all(db_engine)
    with db_engine.begin() as conn:
        conn.execute(
            notes.insert(),
            [{"id": i, "amount": Decimal(f"{i}.25"), "body": f"note {i} ✓"} for i in range(100)],
        )
    with db_engine.connect() as conn:
        rows = conn.execute(sa.select(notes).order_by(notes.c.id)).all()
        schema = conn.execute(sa.text("SELECT current_schema()")).scalar_one()
    assert [(r.id, r.amount, r.body) for r in rows] == [
        (i, Decimal(f"{i}.25"), f"note {i} ✓") for i in range(100)
    ]
    # Each test gets a schema of its own, so tables never leak between tests.
    assert schema.startswith("t_")
