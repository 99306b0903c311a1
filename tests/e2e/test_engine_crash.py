"""A SIGKILLed engine, under the local stack's default guarantee, through real Kafka, the
ksqlDB emulator and PostgreSQL: the rules of ksql/ as shipped, seeded traffic, the emulator
killed mid-stream and started again. PostgreSQL must end with exactly the alerts the rules owe,
each window alert with its exact count: no alert lost, none doubled, no window that counted a
replayed transaction twice."""

from __future__ import annotations

import os
import shutil
import signal
import threading
import time

import pytest
import sqlalchemy as sa
from bench._rules_model import RulesModel

from streamguard import stack
from streamguard.consumer.loop import AlertConsumer
from streamguard.producer.generator import TransactionGenerator
from streamguard.producer.population import Population
from streamguard.producer.sender import Sender
from streamguard.settings import get_settings
from streamguard.stack.processes import is_ours
from tests.conftest import stack_dir
from tests.e2e.rules_stack import free_ports, up_with_rules
from tests.e2e.test_partitions import GROUP, START_MS, _wait_for_alerts

pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]

SEED = 23
COUNT = 3000


def _alerts(engine: sa.Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(sa.text("SELECT count(*) FROM alerts")).scalar_one())


@pytest.mark.parametrize("processes", [1, 2], ids=["one-process", "two-query-processes"])
def test_a_killed_engine_leaves_exactly_the_alerts_the_rules_owe(
    processes: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With two query processes the kill takes both: the server by signal, its query process
    by the kernel as its server dies."""
    monkeypatch.setenv("STREAMGUARD_KSQL_QUERY_PROCESSES", str(processes))
    assert get_settings().ksql_processing_guarantee == "at_least_once", "the stack's default"
    population = Population.build(SEED, accounts=2000)
    traffic = TransactionGenerator(
        population, seed=SEED, fraud_share=0.3, start_ms=START_MS, rate=1000.0
    ).take(COUNT)
    model = RulesModel()
    for n, txn in enumerate(traffic):
        model.feed(n, txn.value)

    state_dir = stack_dir(f"engine-crash-{processes}")
    ports = free_ports()
    try:
        state = up_with_rules(state_dir, ports, "--skip-rule-tests")
        bootstrap, url = state.part("kafka").url or "", state.part("postgres").url or ""
        consumer = AlertConsumer(
            bootstrap_servers=bootstrap,
            database_url=url,
            topic="fraud_alerts",
            dlq_topic="fraud_alerts_dlq",
            group_id=GROUP,
        )
        thread = threading.Thread(target=consumer.run, daemon=True)
        thread.start()
        engine = sa.create_engine(url)
        try:
            sender = Sender(bootstrap, "transactions")
            half = COUNT // 2
            sender.send_all(traffic[:half])
            assert sender.flush().failed == 0
            # Killed once its alerts have started to land: mid-stream, between commits.
            deadline = time.monotonic() + 120
            while _alerts(engine) == 0:
                assert time.monotonic() < deadline, "no alert arrived before the kill"
                time.sleep(0.05)
            pid = stack.StackState.load(state_dir).part("ksqldb").pid
            assert pid is not None
            os.kill(pid, signal.SIGKILL)
            # A signal is delivered, and a process torn down, after os.kill returns: until it
            # is gone, `stack up` would rightly find it running and start nothing.
            deadline = time.monotonic() + 30
            while is_ours(pid, "ksql_emulator"):
                assert time.monotonic() < deadline, "the killed engine did not die"
                time.sleep(0.05)
            # The same command a user runs: the dead part is started again, the others kept.
            stack.up(state_dir, **ports)
            sender.send_all(traffic[half:])
            assert sender.flush().failed == 0
            rows = _wait_for_alerts(engine, model)
        finally:
            consumer.stop()
            thread.join(60)
            engine.dispose()
        want = {alert: expected.txn_count for alert, expected in model.expected.items()}
        assert rows.keys() == want.keys(), (
            f"missing {sorted(want.keys() - rows.keys())[:5]}, "
            f"unexpected {sorted(rows.keys() - want.keys())[:5]}"
        )
        wrong = {a: (rows[a][11], n) for a, n in want.items() if n is not None and rows[a][11] != n}
        assert not wrong, f"window counts (found, owed): {list(wrong.items())[:5]}"
        assert consumer.stats.dead_lettered == 0
    finally:
        stack.down(state_dir, purge=True)
        shutil.rmtree(state_dir, ignore_errors=True)
