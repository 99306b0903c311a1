"""The whole pipeline: transactions -> Kafka -> the rules of ksql/ -> consumer -> PostgreSQL.

A fresh local stack per partition count (or the servers the usual settings name, with
`--external`), the rules of ksql/ exactly as shipped applied by the migration runner (only the
partition counts defined), and the consumer running as the stack runs it. Three measurements:

- sustained throughput: `--count` transactions of the seeded producer (fixed seed and start
  time, as `streamguard produce --rate 0 --seed S --start-time T` sends them) produced as fast
  as possible; the rate is the count over the time from the first send to the commit of the
  last alert row they cause, beside a bare confluent-kafka consume-and-produce pass over the
  same topic in the same run;
- detection latency at steady rates (`--rates`, `--duration` seconds each, wall-clock event
  times): from the moment a transaction is sent to the moment its alert row is written
  (`alerts.first_seen_at`), p50/p95/p99/max per rule; a window rule's latency starts at the
  transaction that made its window pass the threshold. Each rate first runs for `--warmup`
  seconds, whose alerts are checked like the others but timed apart (reported as the warm-up):
  a broker's JIT compiler works on each new pattern of requests for about half a minute, using
  up to half a core, and after the throughput backlog the rules expire its old windows;
- idle cost: CPU time of every process of the stack (broker, emulator, PostgreSQL and its
  children, producer, consumer) while the producer sends `--idle-rate` transactions a second,
  as a share of one core, counted from `--idle-warmup` seconds after the producer started (a
  stack left running), and over its first minute, reported apart (while the broker's JIT
  compiler still works on the new pattern of requests); beside it, how often each part's
  threads were woken, and the CPU time a wake-up costs.

When has a run finished? `bench/_rules_model.py` computes, from the transactions sent, every
alert the rules must write and each window alert's final count. The run is over when every such
row is in PostgreSQL with its final count, and nothing moves any more for `--quiet` seconds:
no alert row changes, no topic grows, and the consumer group has no record left on
`fraud_alerts` after its committed offsets. The end time is then the latest `last_seen_at` of
the expected rows (the database's clock; the same machine's clock stamps the sends). Rows the
model did not expect, and expected rows that never came, are reported.

    .venv/bin/python -m bench.pipeline [--count 200000] [--rates 1000,5000] [--duration 60]
        [--warmup 30] [--partitions 1,4] [--json FILE] [--chart FILE.png] [--external]
    quick: .venv/bin/python -m bench.pipeline --count 5000 --duration 5 --warmup 2 --partitions 1
"""

from __future__ import annotations

import argparse
import gc
import itertools
import json
import math
import os
import platform
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import psutil
import sqlalchemy as sa
from confluent_kafka import Consumer, ConsumerGroupTopicPartitions, KafkaError, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic
from rich.console import Console
from rich.table import Table

from bench._rules_model import PER_TRANSACTION, WINDOWED, Expected, RulesModel
from bench.engine import bare
from streamguard import db, stack
from streamguard.migrations.local_config import write_local_config
from streamguard.producer.command import accounts_for
from streamguard.producer.generator import TransactionGenerator
from streamguard.producer.pacing import Pacer
from streamguard.producer.population import Population
from streamguard.producer.sender import Sender
from streamguard.settings import get_settings
from streamguard.stack import apps
from streamguard.stack.processes import free_port
from streamguard.stack.state import StackState
from streamguard.times import parse_time

console = Console(stderr=True)
ROOT = Path(__file__).resolve().parent.parent
TRANSACTIONS = "transactions"
ALERTS = "fraud_alerts"
GROUP = "streamguard-alerts"
RULES = PER_TRANSACTION + WINDOWED


# -- the pipeline's parts --------------------------------------------------------------------


@dataclass
class Parts:
    bootstrap: str
    database_url: str
    state_dir: Path | None  # the local stack's, None on --external servers
    consumer: subprocess.Popen[bytes] | None = None
    log_dir: Path = field(default_factory=lambda: Path(tempfile.gettempdir()))

    def processes(self) -> dict[str, list[int]]:
        """The pids of each part of the stack (with their children) for the idle measurement."""
        found: dict[str, list[int]] = {}
        if self.state_dir is not None:
            state = StackState.load(self.state_dir)
            for name in ("kafka", "ksqldb", "postgres", "consumer", "producer"):
                pid = state.part(name).pid
                if pid is not None and psutil.pid_exists(pid):
                    found[name] = [pid]
        elif self.consumer is not None:
            found["consumer"] = [self.consumer.pid]
        return found


def _cli(state_dir: Path | None, *args: str) -> None:
    """A `streamguard` command, as a user runs it; its output goes to the terminal."""
    where = ["--state-dir", str(state_dir)] if state_dir is not None else []
    argv = [sys.executable, "-m", "streamguard.cli", *where, *args]
    done = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"`streamguard {' '.join(args)}` failed:\n{done.stdout}{done.stderr}")


def _apply_rules(state_dir: Path | None, partitions: int, ksqldb_url: str, work: Path) -> None:
    """The rules of ksql/ as shipped, applied as start.sh applies them: through a copy of the
    project's ksql-migrations.properties that names this pipeline's ksqlDB. Their example cases
    are left to the tests (`--skip-rule-tests`): the bench measures speed, not the gate."""
    _cli(state_dir, "db", "upgrade")
    config = str(write_local_config(work / "ksql-migrations.properties", ksqldb_url, ROOT))
    _cli(state_dir, "migrate", "-c", config, "initialize-metadata")
    defines = [f"transactions_partitions={partitions}", f"fraud_alerts_partitions={partitions}"]
    _cli(
        state_dir, "migrate", "-c", config, "apply", "--all", "--skip-rule-tests",
        *[x for d in defines for x in ("-d", d)],
    )  # fmt: skip


@contextmanager
def local_pipeline(partitions: int) -> Iterator[Parts]:
    """A fresh local stack with the rules applied and the consumer running; purged afterwards."""
    with tempfile.TemporaryDirectory(prefix="streamguard-bench-pipeline-") as tmp:
        state_dir = Path(tmp)
        try:
            console.print(f"[bold]{partitions} partition(s)[/bold]: starting a local stack")
            state = stack.up(
                state_dir,
                kafka_port=free_port(),
                postgres_port=free_port(),
                ksqldb_port=free_port(),
            )
            _apply_rules(state_dir, partitions, state.part("ksqldb").url or "", state_dir)
            stack.start_apps(state_dir, producer_args=None)
            parts = Parts(
                state.part("kafka").url or "", state.part("postgres").url or "", state_dir
            )
            parts.log_dir = state_dir
            yield parts
        finally:
            stack.down(state_dir, purge=True)


@contextmanager
def external_pipeline(partitions: int) -> Iterator[Parts]:
    """The servers the settings name (KAFKA_BOOTSTRAP_SERVERS, DATABASE_URL, KSQLDB_URL)."""
    settings = get_settings()
    engine = db.create_engine(settings.database)
    log_dir = Path(tempfile.mkdtemp(prefix="streamguard-bench-pipeline-"))
    _apply_rules(None, partitions, settings.ksqldb, log_dir)
    with engine.connect() as conn:
        if conn.execute(sa.text("SELECT count(*) FROM alerts")).scalar_one():
            raise SystemExit("--external needs an empty alerts table: the bench counts its rows")
    engine.dispose()
    with (log_dir / "consumer.log").open("wb") as log:
        consumer = subprocess.Popen(
            [sys.executable, "-m", "streamguard.cli", "consume"],
            cwd=ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        yield Parts(settings.kafka, settings.database, None, consumer, log_dir)
    finally:
        consumer.send_signal(signal.SIGTERM)
        consumer.wait(60)


# -- watching the pipeline finish ------------------------------------------------------------


@dataclass
class Row:
    txn_count: int | None
    first_seen: float
    last_seen: float


class Watcher:
    """What PostgreSQL and Kafka say about the pipeline's progress."""

    def __init__(self, parts: Parts) -> None:
        self.parts = parts
        self.engine = db.create_engine(parts.database_url)
        self.admin = AdminClient({"bootstrap.servers": parts.bootstrap})
        self.probe = Consumer(
            {
                "bootstrap.servers": parts.bootstrap,
                "group.id": f"bench-probe-{uuid.uuid4().hex}",
                "enable.auto.commit": False,
                "isolation.level": "read_committed",
                "enable.partition.eof": True,
            }
        )

    def close(self) -> None:
        self.probe.close()
        self.engine.dispose()
        # Gone before the broker stops, or librdkafka complains of the lost connection.
        del self.admin

    def rows(self, since: float) -> dict[str, Row]:
        with self.engine.connect() as conn:
            result = conn.execute(
                sa.text(
                    "SELECT alert_id, txn_count, extract(epoch FROM first_seen_at),"
                    " extract(epoch FROM last_seen_at) FROM alerts"
                    " WHERE first_seen_at >= to_timestamp(:since)"
                ),
                {"since": since},
            )
            return {r[0]: Row(r[1], float(r[2]), float(r[3])) for r in result}

    def table_state(self) -> tuple[int, float]:
        with self.engine.connect() as conn:
            count, last = conn.execute(
                sa.text("SELECT count(*), extract(epoch FROM max(last_seen_at)) FROM alerts")
            ).one()
        return int(count), float(last or 0)

    def topic_ends(self) -> dict[tuple[str, int], int]:
        ends: dict[tuple[str, int], int] = {}
        for name, topic in self.probe.list_topics(timeout=10).topics.items():
            if name.startswith("__"):
                continue
            for p in topic.partitions:
                _low, high = self.probe.get_watermark_offsets(
                    TopicPartition(name, p), timeout=10, cached=False
                )
                ends[(name, p)] = high
        return ends

    def consumer_pending(self) -> bool:
        """Whether a record of fraud_alerts lies after the consumer group's committed offsets.

        A transactional topic ends in a commit marker that no consumer ever commits past, so an
        offset short of the end is checked by reading from it: only a record counts."""
        request = ConsumerGroupTopicPartitions(GROUP)
        offsets = self.admin.list_consumer_group_offsets([request])[GROUP].result(10)
        committed = {tp.partition: tp.offset for tp in offsets.topic_partitions or []}
        partitions = self.probe.list_topics(ALERTS, timeout=10).topics[ALERTS].partitions
        behind = []
        for p in partitions:
            low, high = self.probe.get_watermark_offsets(TopicPartition(ALERTS, p), timeout=10)
            at = committed.get(p, -1)
            at = low if at < 0 else at
            if at < high:
                behind.append(TopicPartition(ALERTS, p, at))
        if not behind:
            return False
        self.probe.assign(behind)
        waiting = {tp.partition for tp in behind}
        deadline = time.monotonic() + 10
        try:
            while waiting and time.monotonic() < deadline:
                message = self.probe.poll(0.5)
                if message is None:
                    continue
                error = message.error()
                if error is None:
                    return True
                if error.code() == KafkaError._PARTITION_EOF:
                    waiting.discard(message.partition())
            return bool(waiting)
        finally:
            self.probe.unassign()

    def wait_done(
        self, expected: dict[str, Expected], since: float, quiet_s: float, stall_s: float
    ) -> tuple[dict[str, Row], float | None]:
        """Wait until every expected row is in with its final count and nothing moves any more.

        Returns the rows written since `since` and the end time (None when the pipeline stalled
        for `stall_s` seconds short of the expected rows)."""
        windows = {a for a, e in expected.items() if e.txn_count is not None}
        progress, last_move = None, time.monotonic()
        quiet_since: float | None = None
        while True:
            rows = self.rows(since)
            missing = [
                a
                for a in expected
                if a not in rows or (a in windows and rows[a].txn_count != expected[a].txn_count)
            ]
            moved = (len(rows), max((r.last_seen for r in rows.values()), default=0.0))
            ends = self.topic_ends()
            now = time.monotonic()
            if (moved, ends) != progress:
                progress, last_move, quiet_since = (moved, ends), now, None
            done_rows = len(expected) - len(missing)
            console.print(
                f"  alert rows {done_rows:,}/{len(expected):,} expected, {len(rows):,} written",
                end="\r",
            )
            if not missing:
                if quiet_since is None:
                    quiet_since = now
                if now - quiet_since >= quiet_s and not self.consumer_pending():
                    console.print()
                    end = max((rows[a].last_seen for a in expected), default=since)
                    return rows, end
            elif now - last_move > stall_s:
                console.print()
                console.print(f"[red]stalled[/red]: {len(missing):,} expected alert rows missing")
                return rows, None
            time.sleep(0.5)


# -- the measurements ------------------------------------------------------------------------


def _percentiles(values: list[float]) -> dict[str, float | int]:
    if not values:
        return {"count": 0}
    ordered = sorted(values)

    def rank(p: float) -> float:
        return ordered[max(0, math.ceil(p * len(ordered)) - 1)]

    return {
        "count": len(ordered),
        "p50_ms": rank(0.50) * 1000,
        "p95_ms": rank(0.95) * 1000,
        "p99_ms": rank(0.99) * 1000,
        "max_ms": ordered[-1] * 1000,
    }


def _differences(expected: dict[str, Expected], rows: dict[str, Row]) -> dict[str, Any]:
    return {
        # A few of each, to look into a difference without rerunning.
        "missing_sample": sorted(a for a in expected if a not in rows)[:10],
        "unexpected_sample": sorted(a for a in rows if a not in expected)[:10],
        "missing": sum(1 for a in expected if a not in rows),
        "unexpected": sum(1 for a in rows if a not in expected),
        "wrong_count": sum(
            1
            for a, e in expected.items()
            if a in rows and e.txn_count is not None and rows[a].txn_count != e.txn_count
        ),
    }


def throughput(
    parts: Parts, watcher: Watcher, count: int, seed: int, start_ms: int, args: argparse.Namespace
) -> dict[str, Any]:
    # `streamguard produce --rate 0 --seed S --start-time T --count N` sends exactly these.
    population = Population.build(seed, accounts=accounts_for(1000.0))
    generator = TransactionGenerator(population, seed=seed, start_ms=start_ms, rate=1000.0)
    txns = generator.take(count)
    model = RulesModel()
    for n, txn in enumerate(txns):
        model.feed(n, txn.value)
    console.print(f"  throughput: {count:,} transactions, {len(model.expected):,} alerts expected")
    sender = Sender(parts.bootstrap, TRANSACTIONS)
    since = time.time() - 1
    # The bench itself stands in for the producer here; it also watches PostgreSQL.
    meter = CpuMeter(parts.processes(), bench=True)
    started = time.time()
    sender.send_all(txns)
    report = sender.flush()
    sent_s = time.time() - started
    if report.failed:
        raise SystemExit(f"the producer failed: {report.summary()}")
    rows, end = watcher.wait_done(model.expected, since, args.quiet, args.stall)
    # Per transaction, so that wait_done's quiet period (little CPU) hardly counts.
    _, used = meter.used()
    elapsed = (end - started) if end is not None else None
    sink = f"bench-bare-{uuid.uuid4().hex[:8]}"
    topic = watcher.probe.list_topics(TRANSACTIONS, timeout=10).topics[TRANSACTIONS]
    partitions = len(topic.partitions)
    watcher.admin.create_topics([NewTopic(sink, num_partitions=partitions)])[sink].result(30)
    bare_rate = bare(parts.bootstrap, TRANSACTIONS, sink, count)
    return {
        "transactions": count,
        "alerts_expected": len(model.expected),
        "alert_rows": len(rows),
        **_differences(model.expected, rows),
        "produce_seconds": sent_s,
        "seconds": elapsed,
        "rate": count / elapsed if elapsed else None,
        "bare_rate": bare_rate,
        "ratio_to_bare": (count / elapsed) / bare_rate if elapsed else None,
        "cpu_us_per_transaction": {name: 1e6 * sec / count for name, sec in used.items()},
    }


class LiveTraffic:
    """The latency phases' traffic: one population, one model of the rules across phases.

    Accounts keep their home country from phase to phase and the model sees every phase's
    transactions, so a window that spans two phases is judged as the engine judges it."""

    def __init__(self, seed: int, most_rate: float) -> None:
        self.seed = seed
        self.population = Population.build(seed, accounts=accounts_for(most_rate))
        self.model = RulesModel()
        self.sent_at: list[float] = []


def latency(
    parts: Parts, watcher: Watcher, traffic: LiveTraffic, rate: float, phase: int,
    args: argparse.Namespace,
) -> dict[str, Any]:  # fmt: skip
    generator = TransactionGenerator(
        traffic.population,
        seed=traffic.seed + phase,
        start_ms=int(time.time() * 1000),
        rate=rate,
        clock=lambda: int(time.time() * 1000),
    )
    # Each phase's fraud accounts are its own: the generator numbers them from 1 each time.
    generator._fraud_serial = phase * 10_000_000
    sent_at, model = traffic.sent_at, traffic.model
    first = len(sent_at)
    values: list[bytes] = []
    sender = Sender(parts.bootstrap, TRANSACTIONS)
    # A real producer has been running for long; this one is new.
    sender.connect()
    source = iter(generator)
    console.print(
        f"  latency: {rate:,.0f} transactions/s for {args.duration:g} s "
        f"after {args.warmup:g} s of warm-up"
    )
    since = time.time() - 1
    warm = int(rate * args.warmup)
    total = warm + int(rate * args.duration)
    pacer = Pacer(rate)
    while len(values) < total:
        now = time.monotonic()
        due = pacer.due(len(values), now, most=min(1000, total - len(values)))
        if due == 0:
            time.sleep(min(max(pacer.seconds_until_due(len(values), now), 0.0002), 0.01))
            continue
        batch = list(itertools.islice(source, due))
        # One clock reading a batch: a batch of what fell due goes out within microseconds.
        sent = time.time()
        sender.send_all(batch)
        sent_at.extend([sent] * len(batch))
        values.extend(txn.value for txn in batch)
    send_s = time.monotonic() - pacer.started
    report = sender.flush()
    if report.failed:
        raise SystemExit(f"the producer failed: {report.summary()}")
    for n, value in enumerate(values, first):
        model.feed(n, value)
    expected = {a: e for a, e in model.expected.items() if e.crossing >= first}
    rows, end = watcher.wait_done(expected, since, args.quiet, args.stall)
    by_rule: dict[str, list[float]] = {rule: [] for rule in RULES}
    warming: dict[str, list[float]] = {rule: [] for rule in RULES}
    for alert_id, want in expected.items():
        row = rows.get(alert_id)
        if row is not None:
            into = warming if want.crossing < first + warm else by_rule
            into.setdefault(want.rule_id, []).append(row.first_seen - sent_at[want.crossing])
    achieved = total / send_s
    per_kind = _by_kind(by_rule)
    if achieved < 0.95 * rate:
        console.print(f"[yellow]  the producer kept up only {achieved:,.0f}/s[/yellow]")
    return {
        "rate": rate,
        "duration_s": args.duration,
        "transactions": total,
        "achieved_rate": achieved,
        "alerts_expected": len(expected),
        **_differences(expected, rows),
        "drained_after_s": (end - sent_at[-1]) if end is not None else None,
        "warmup_s": args.warmup,
        "rules": {rule: _percentiles(values) for rule, values in by_rule.items()},
        "kinds": {kind: _percentiles(values) for kind, values in per_kind.items()},
        "warmup_kinds": {kind: _percentiles(values) for kind, values in _by_kind(warming).items()},
    }


def _by_kind(by_rule: dict[str, list[float]]) -> dict[str, list[float]]:
    return {
        "transaction": [v for r in PER_TRANSACTION for v in by_rule[r]],
        "window": [v for r in WINDOWED for v in by_rule[r]],
    }


def _family(pids: list[int], descendants: bool) -> list[psutil.Process]:
    family: list[psutil.Process] = []
    for pid in pids:
        try:
            process = psutil.Process(pid)
            family += [process, *(process.children(recursive=True) if descendants else [])]
        except psutil.NoSuchProcess:
            continue
    return family


def _cpu(pids: list[int], descendants: bool = True) -> dict[int, float]:
    """CPU seconds of each process (and all its descendants), by pid."""
    times: dict[int, float] = {}
    for p in _family(pids, descendants):
        try:
            t = p.cpu_times()
            times[p.pid] = t.user + t.system
        except psutil.NoSuchProcess:
            continue
    return times


def _wakeups(pids: list[int], descendants: bool = True) -> dict[int, int]:
    """How often the threads of each process (and its descendants) went to sleep and were
    woken again (voluntary context switches, over all threads), by pid; empty where /proc
    does not tell."""
    counts: dict[int, int] = {}
    for p in _family(pids, descendants):
        try:
            tasks = list(Path(f"/proc/{p.pid}/task").iterdir())
        except OSError:
            continue  # gone meanwhile, or not Linux
        total = 0
        for task in tasks:
            try:
                status = (task / "status").read_text()
                total += int(status.split("voluntary_ctxt_switches:", 1)[1].split()[0])
            except (OSError, IndexError, ValueError):
                continue  # a thread that ended meanwhile
        counts[p.pid] = total
    return counts


class CpuMeter:
    """CPU seconds of each part of the stack over one stretch of wall time; with `bench`, of
    this process too (the stack's processes may be its children: they are not counted twice).
    Also how often each part was woken: at a low rate, what a part costs follows from its
    wake-ups more than from its work (a thread woken after a sleep runs from cold caches)."""

    def __init__(self, pids: dict[str, list[int]], bench: bool = False) -> None:
        self.pids = pids
        self.bench = bench
        self.before = self._now()
        self.woken_before = self._woken()
        self.started = time.monotonic()
        self.wakeups_per_s: dict[str, float] = {}

    def _now(self) -> dict[str, dict[int, float]]:
        times = {name: _cpu(p) for name, p in self.pids.items()}
        if self.bench:
            times["bench"] = _cpu([os.getpid()], descendants=False)
        return times

    def _woken(self) -> dict[str, dict[int, int]]:
        return {name: _wakeups(p) for name, p in self.pids.items()}

    def used(self) -> tuple[float, dict[str, float]]:
        """Wall seconds since the meter started and CPU seconds per part; also sets
        `wakeups_per_s`."""
        after = self._now()
        woken = self._woken()
        wall = time.monotonic() - self.started
        # A process that ended inside the window takes its threads' counts with it: a part's
        # count never goes below zero.
        self.wakeups_per_s = {
            name: max(0, sum(n - self.woken_before[name].get(pid, 0) for pid, n in counts.items()))
            / wall
            for name, counts in woken.items()
        }
        # A child that came and went inside the window is counted from its first sighting.
        return wall, {
            name: sum(t - self.before[name].get(pid, 0.0) for pid, t in after[name].items())
            for name in after
        }


_PRODUCER_START_S = 5.0
# The stretch of the idle phase reported as its first minute.
_FIRST_MINUTE_S = 60.0


def idle(parts: Parts, rate: float, seconds: float, warmup: float) -> dict[str, Any]:
    """CPU share of one core per part while the producer sends `rate` transactions a second,
    from `warmup` seconds after it started; and the same over the first minute, reported apart.

    The broker's JIT compiler works on each new pattern of requests for two to three minutes
    (measured per thread at 20 transactions a second: its C2 compiler thread used 5% of a core
    a minute in, under 0.5% after three), so the first minute says what starting costs and the
    stretch after `warmup` what a stack left running costs."""
    # The producer's start-up (imports, population) is no steady cost either.
    warmup = max(warmup, _PRODUCER_START_S)
    console.print(
        f"  idle cost: {rate:g} transactions/s, CPU time over {seconds:g} s after {warmup:g} s"
    )
    producer_args = ["--rate", f"{rate:g}"]
    producer: subprocess.Popen[bytes] | None = None
    if parts.state_dir is not None:
        stack.start_apps(parts.state_dir, producer_args=producer_args)
    else:
        with (parts.log_dir / "producer.log").open("wb") as log:
            producer = subprocess.Popen(
                [sys.executable, "-m", "streamguard.cli", "produce", *producer_args],
                cwd=ROOT,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
    early: dict[str, Any] | None = None
    try:
        time.sleep(_PRODUCER_START_S)
        pids = parts.processes()
        if producer is not None:
            pids["producer"] = [producer.pid]
        first_s = min(_FIRST_MINUTE_S, warmup - _PRODUCER_START_S)
        if first_s >= _FIRST_MINUTE_S / 2:
            meter = CpuMeter(pids)
            time.sleep(first_s)
            early = _shares(*meter.used(), meter.wakeups_per_s)
        time.sleep(max(0.0, warmup - _PRODUCER_START_S - (first_s if early else 0.0)))
        meter = CpuMeter(pids)
        time.sleep(seconds)
        settled = _shares(*meter.used(), meter.wakeups_per_s)
    finally:
        if parts.state_dir is not None:
            state = StackState.load(parts.state_dir)
            apps.stop("producer", state.part("producer"), parts.state_dir)
            state.save()
        elif producer is not None:
            producer.send_signal(signal.SIGTERM)
            producer.wait(60)
    result: dict[str, Any] = {"rate": rate, "warmup_s": warmup, **settled}
    if early is not None:
        result["first_minute"] = {"from_s": _PRODUCER_START_S, **early}
    return result


def _shares(wall: float, used: dict[str, float], wakeups: dict[str, float]) -> dict[str, Any]:
    shares = {name: 100 * seconds / wall for name, seconds in used.items()}
    return {
        "seconds": wall,
        "cpu_percent_of_one_core": shares,
        "total_percent": sum(shares.values()),
        "wakeups_per_s": wakeups,
        "total_wakeups_per_s": sum(wakeups.values()),
        # CPU time per wake-up: a part whose figure is high works hard each time; one whose
        # figure is low costs what it costs by being woken often.
        "cpu_us_per_wakeup": {
            name: 1e6 * used[name] / (n * wall) for name, n in wakeups.items() if n > 0
        },
    }


# -- running and reporting -------------------------------------------------------------------


def run_one(partitions: int, args: argparse.Namespace) -> dict[str, Any]:
    pipeline = external_pipeline if args.external else local_pipeline
    # Other work on the machine skews every figure: the load says how busy it was.
    result: dict[str, Any] = {"partitions": partitions, "load_before": os.getloadavg()}
    with pipeline(partitions) as parts:
        watcher = Watcher(parts)
        try:
            start_ms = int(parse_time(args.start_time).timestamp() * 1000)
            if "throughput" in args.phases:
                result["throughput"] = throughput(
                    parts, watcher, args.count, args.seed, start_ms, args
                )
            if "latency" in args.phases:
                traffic = LiveTraffic(args.seed, max(args.rates))
                result["latency"] = [
                    latency(parts, watcher, traffic, rate, phase, args)
                    for phase, rate in enumerate(args.rates, 1)
                ]
            if "idle" in args.phases:
                result["idle"] = idle(parts, args.idle_rate, args.idle_seconds, args.idle_warmup)
        finally:
            watcher.close()
            # A Sender and its librdkafka producer refer to each other (the delivery callback):
            # collected now, before the broker stops, they cannot complain of its absence.
            gc.collect()
    result["load_after"] = os.getloadavg()
    return result


def _ms(value: Any) -> str:
    return f"{value:,.0f}" if isinstance(value, int | float) else "-"


def report(results: list[dict[str, Any]], out: Console) -> None:
    table = Table(title="sustained throughput (all six rules into PostgreSQL)")
    for column in ("partitions", "transactions", "alerts", "seconds", "tx/s", "bare tx/s",
                   "ratio", "produce s", "missing/unexpected"):  # fmt: skip
        table.add_column(column, justify="right")
    for r in results:
        t = r.get("throughput")
        if t:
            table.add_row(
                str(r["partitions"]), f"{t['transactions']:,}", f"{t['alert_rows']:,}",
                f"{t['seconds']:.1f}" if t["seconds"] else "stalled", _ms(t["rate"]),
                _ms(t["bare_rate"]),
                f"{t['ratio_to_bare']:.3f}" if t["ratio_to_bare"] else "-",
                f"{t['produce_seconds']:.1f}", f"{t['missing']}/{t['unexpected']}",
            )  # fmt: skip
    out.print(table)
    for r in results:
        used = r.get("throughput", {}).get("cpu_us_per_transaction")
        if used:
            parts = ", ".join(f"{name} {us:,.0f}" for name, us in sorted(used.items()))
            out.print(f"{r['partitions']} partition(s), CPU µs per transaction: {parts}")
    table = Table(title="detection latency, send -> alert row (ms)")
    for column in ("partitions", "rate", "rule", "alerts", "p50", "p95", "p99", "max"):
        table.add_column(column, justify="right")
    for r in results:
        for phase in r.get("latency", []):
            rows = [(k, v) for k, v in phase["kinds"].items()] + list(phase["rules"].items())
            for name, stats in rows:
                label = f"[bold]{name} rules[/bold]" if name in ("transaction", "window") else name
                table.add_row(
                    str(r["partitions"]), f"{phase['rate']:,.0f}", label, str(stats["count"]),
                    _ms(stats.get("p50_ms")), _ms(stats.get("p95_ms")),
                    _ms(stats.get("p99_ms")), _ms(stats.get("max_ms")),
                )  # fmt: skip
            if phase["missing"] or phase["unexpected"]:
                out.print(
                    f"[yellow]{r['partitions']} partition(s), {phase['rate']:,.0f}/s: "
                    f"{phase['missing']} expected alerts missing, {phase['unexpected']} "
                    "unexpected[/yellow]"
                )
    out.print(table)
    for r in results:
        for phase in r.get("latency", []):
            warm = phase.get("warmup_kinds")
            if phase.get("warmup_s") and warm:
                out.print(
                    f"{r['partitions']} partition(s), {phase['rate']:,.0f}/s, the "
                    f"{phase['warmup_s']:g} s of warm-up before: p50 / p99 ms "
                    + "; ".join(
                        f"{kind} rules {_ms(stats.get('p50_ms'))} / {_ms(stats.get('p99_ms'))}"
                        for kind, stats in warm.items()
                    )
                )
    for r in results:
        before, after = r["load_before"][0], r["load_after"][0]
        out.print(
            f"{r['partitions']} partition(s): load average {before:.1f} before, {after:.1f} after"
        )
    table = Table(title="idle cost, % of one core")
    table.add_column("partitions", justify="right")
    shares_of = [r.get("idle", {}).get("cpu_percent_of_one_core", {}) for r in results]
    names = sorted({name for shares in shares_of for name in shares})
    for name in [*names, "total"]:
        table.add_column(name, justify="right")
    for r in results:
        i = r.get("idle")
        if i:
            shares = i["cpu_percent_of_one_core"]
            table.add_row(
                str(r["partitions"]),
                *[f"{shares[n]:.1f}" if n in shares else "-" for n in names],
                f"{i['total_percent']:.1f}",
            )
    out.print(table)
    woken = Table(title="idle wake-ups a second (CPU µs a wake-up)")
    woken.add_column("partitions", justify="right")
    for name in [*names, "total"]:
        woken.add_column(name, justify="right")
    for r in results:
        i = r.get("idle")
        if i and "wakeups_per_s" in i:
            rates, each = i["wakeups_per_s"], i["cpu_us_per_wakeup"]
            woken.add_row(
                str(r["partitions"]),
                *[f"{rates[n]:,.0f} ({each[n]:,.0f})" if n in each else "-" for n in names],
                f"{i['total_wakeups_per_s']:,.0f}",
            )
    out.print(woken)
    for r in results:
        first = r.get("idle", {}).get("first_minute")
        if first:
            shares = first["cpu_percent_of_one_core"]
            parts = ", ".join(f"{n} {shares[n]:.1f}" for n in names if n in shares)
            out.print(
                f"{r['partitions']} partition(s), idle, the first minute "
                f"({first['from_s']:g}-{first['from_s'] + first['seconds']:.0f} s after the "
                f"producer started): {first['total_percent']:.1f}% ({parts})"
            )


def chart(results: list[dict[str, Any]], path: Path) -> None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        console.print(f"[yellow]no chart: matplotlib is not installed[/yellow] ({path})")
        return
    figure, axes = plt.subplots(1, 2, figsize=(11, 4), sharey=True)
    for axis, kind in zip(axes, ("transaction", "window"), strict=True):
        for r in results:
            phases = r.get("latency", [])
            rates = [p["rate"] for p in phases]
            for pct in ("p50_ms", "p95_ms", "p99_ms"):
                values = [p["kinds"][kind].get(pct, math.nan) for p in phases]
                axis.plot(rates, values, marker="o", label=f"{r['partitions']}p {pct[:3]}")
        axis.set_title(f"{kind} rules")
        axis.set_xlabel("transactions / s")
        axis.set_yscale("log")
        axis.grid(True, which="both", alpha=0.3)
    axes[0].set_ylabel("send -> alert row (ms)")
    axes[1].legend()
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    console.print(f"chart: {path}")


def _numbers(text: str, kind: type) -> list[Any]:
    try:
        return [kind(x) for x in text.split(",") if x.strip()]
    except ValueError:
        message = f"a comma-separated list of numbers, got {text!r}"
        raise argparse.ArgumentTypeError(message) from None


# The options that are a number of seconds or a rate: flag, default, help.
_SECONDS_AND_RATES: tuple[tuple[str, float, str], ...] = (
    ("--duration", 60.0, "seconds per latency rate"),
    ("--warmup", 30.0, "seconds at each latency rate before the measured ones, timed apart"),
    ("--idle-rate", 20.0, "transactions a second for the idle cost"),
    ("--idle-seconds", 30.0, "seconds of CPU time the idle cost counts"),
    ("--idle-warmup", 180.0, "seconds at the idle rate before its CPU time counts"),
    ("--quiet", 2.0, "seconds without any change that end a measurement"),
    ("--stall", 120.0, "give up after this many seconds without progress"),
)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--count", type=int, default=200_000, help="transactions for throughput (default 200,000)"
    )
    parser.add_argument(
        "--rates",
        type=lambda t: _numbers(t, float),
        default=[1000.0, 5000.0],
        help="steady rates for latency, comma-separated (default 1000,5000)",
    )
    for flag, default, text in _SECONDS_AND_RATES:
        parser.add_argument(flag, type=float, default=default, help=f"{text} (default {default:g})")
    parser.add_argument(
        "--partitions",
        type=lambda t: _numbers(t, int),
        default=[1, 4],
        help="partition counts of transactions and fraud_alerts (default 1,4)",
    )
    parser.add_argument(
        "--phases",
        type=lambda t: t.split(","),
        default=["throughput", "latency", "idle"],
        help="which measurements, comma-separated (default all three)",
    )
    parser.add_argument(
        "--seed", type=int, default=3, help="the producer's seed for its traffic (default 3)"
    )
    parser.add_argument(
        "--start-time",
        default="2026-01-01T00:00:00Z",
        help="simulated start of the throughput traffic",
    )
    parser.add_argument(
        "--external",
        action="store_true",
        help="use the servers of KAFKA_BOOTSTRAP_SERVERS, DATABASE_URL and "
        "KSQLDB_URL instead of a fresh local stack (one partition count)",
    )
    parser.add_argument("--json", type=Path, help="write the figures to this file")
    parser.add_argument("--chart", type=Path, help="a PNG of latency percentiles against rate")
    args = parser.parse_args()
    unknown = set(args.phases) - {"throughput", "latency", "idle"}
    if unknown:
        parser.error(f"--phases: unknown {', '.join(sorted(unknown))}")
    if args.external and len(args.partitions) > 1:
        parser.error("--external runs on one set of topics: give one --partitions")
    results = [run_one(p, args) for p in args.partitions]
    out = Console()
    # Written to a file or a pipe, the tables keep their columns whole.
    report(results, out if out.is_terminal else Console(width=140))
    if args.json:
        meta = {
            "command": " ".join([Path(sys.executable).name, "-m", "bench.pipeline", *sys.argv[1:]]),
            "machine": f"{platform.machine()}, {os.cpu_count()} cores, {platform.python_version()}",
            "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "seed": args.seed,
            "start_time": args.start_time,
        }
        args.json.write_text(json.dumps({**meta, "results": results}, indent=2) + "\n")
        console.print(f"figures: {args.json}")
    if args.chart:
        chart(results, args.chart)


if __name__ == "__main__":
    main()
