"""`streamguard produce`: generated or replayed transactions to Kafka, paced and accounted for."""

from __future__ import annotations

import csv
import itertools
import json
import math
import signal
import sys
import time
from collections.abc import Iterator
from contextlib import ExitStack
from datetime import datetime
from pathlib import Path
from typing import Annotated, BinaryIO

import typer
from rich.markup import escape
from rich.progress import BarColumn, Progress, TaskID, TextColumn, TimeElapsedColumn

from streamguard import terminal
from streamguard.cli_options import check_output_file, command_settings
from streamguard.metrics import MetricsHost, MetricsPort
from streamguard.metrics import serve as serve_metrics
from streamguard.producer.errors import ProducerError, SendError
from streamguard.producer.generator import HOURLY_WEIGHT, Generated, TransactionGenerator
from streamguard.producer.pacing import Burst, Pacer
from streamguard.producer.population import Population
from streamguard.producer.replay import read_recorded
from streamguard.producer.scenarios import SCENARIO_HEADER, Limits, Scenario
from streamguard.producer.sender import DeliveryReport, Sender

# How long a broker has to answer before `produce` says it cannot reach it (less when each
# message may wait less, --delivery-timeout).
_CONNECT_TIMEOUT_S = 10.0

err = terminal.stderr

FRAUD_SCENARIOS = [s.value for s in Scenario.fraud()]

# Messages sent between two looks at the clock: small enough that a deadline, a progress update
# and the rate are kept to within a few milliseconds, large enough to cost nothing per message.
BATCH = 500


def _fraud_scenario(name: str) -> Scenario:
    if name not in FRAUD_SCENARIOS:
        hint = " ('normal' is what the rest of the traffic is)" if name == Scenario.NORMAL else ""
        raise typer.BadParameter(
            f"{name!r} is not a fraud scenario{hint}: one of {', '.join(FRAUD_SCENARIOS)}"
        )
    return Scenario(name)


def _epoch_ms(text: str) -> int:
    if text.isdigit():
        return int(text)
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise typer.BadParameter(
            f"{text!r} is neither epoch milliseconds nor an ISO time like 2026-01-01T00:00:00Z",
            param_hint="--start-time",
        ) from None
    if moment.tzinfo is None:
        raise typer.BadParameter(
            f"{text!r} has no time zone: add Z or +00:00", param_hint="--start-time"
        )
    return int(moment.timestamp() * 1000)


def accounts_for(rate: float) -> int:
    """Enough accounts that each sees a normal transaction at most every 30 s at this rate.

    Simulated time runs faster than `rate` at the busiest hour, by the peak of the hourly curve.
    """
    spacing_s = Limits().normal_account_spacing_ms / 1000
    return max(2000, math.ceil(rate * spacing_s * max(HOURLY_WEIGHT) * 1.1))


def _check(ok: bool, hint: str, message: str) -> None:
    if not ok:
        raise typer.BadParameter(message, param_hint=hint)


def produce_command(
    rate: Annotated[
        float, typer.Option(help="Messages per second, steady; 0 sends as fast as possible.")
    ] = 100.0,
    count: Annotated[int | None, typer.Option(help="Stop after this many messages.")] = None,
    duration: Annotated[float | None, typer.Option(help="Stop after this many seconds.")] = None,
    burst: Annotated[
        str | None,
        typer.Option(
            help="Extra messages at full speed, SIZE@SECONDS: `500@10` adds 500 every 10 s."
        ),
    ] = None,
    seed: Annotated[int, typer.Option(help="Seed of the population and traffic.")] = 42,
    traffic_seed: Annotated[
        int | None,
        typer.Option(
            help="Seed of the traffic alone: another one sends new transactions of the same "
            "population (its accounts, cards and blacklist); `stack apps` gives each start its "
            "own, so that a restarted producer does not send its transactions again.",
            show_default="--seed",
        ),
    ] = None,
    fraud_share: Annotated[
        float, typer.Option(help="Share of transactions that belong to fraud scenarios (0-1).")
    ] = 0.05,
    scenario: Annotated[
        list[Scenario] | None,
        typer.Option(
            help="Only these fraud scenarios (repeatable), sharing --fraud-share equally; "
            "default: all of them.",
            # The fraud scenarios only: `normal` is what the rest of the traffic is.
            parser=_fraud_scenario,
            metavar=f"[{'|'.join(FRAUD_SCENARIOS)}]",
        ),
    ] = None,
    start_time: Annotated[
        str | None,
        typer.Option(
            help="Simulated event times from this moment (epoch ms or ISO); with a seed, two runs "
            "are byte-identical. Default: the wall clock."
        ),
    ] = None,
    accounts: Annotated[
        int | None,
        typer.Option(help="Regular accounts in the population.", show_default="scaled to --rate"),
    ] = None,
    ground_truth: Annotated[
        Path | None,
        typer.Option(help="Also write each transaction with its scenario (JSON Lines)."),
    ] = None,
    append_ground_truth: Annotated[
        bool,
        typer.Option(
            help="Add to the --ground-truth file instead of replacing it (`stack apps` does: "
            "the file then holds every start's transactions)."
        ),
    ] = False,
    write_blacklist: Annotated[
        Path | None,
        typer.Option(
            help="Write the population's blacklisted accounts and merchants (CSV) and go on."
        ),
    ] = None,
    replay: Annotated[
        Path | None,
        typer.Option(
            help="Send the transactions of this .jsonl or .csv file instead.",
            exists=True,
            dir_okay=False,
            readable=True,
        ),
    ] = None,
    dry_run: Annotated[
        bool,
        typer.Option(
            "--dry-run", help="Print the messages (10 unless --count) instead of sending."
        ),
    ] = False,
    topic: Annotated[
        str | None, typer.Option(help="Target topic.", show_default="transactions")
    ] = None,
    bootstrap_servers: Annotated[
        str | None,
        typer.Option(help="Kafka bootstrap servers.", show_default="settings, or the local stack"),
    ] = None,
    delivery_timeout: Annotated[
        float,
        typer.Option(
            help="Seconds a message may wait for the broker's ack before it counts failed."
        ),
    ] = 60.0,
    metrics_port: MetricsPort = None,
    metrics_host: MetricsHost = "127.0.0.1",
) -> None:
    """Produce card transactions: normal traffic with labelled fraud scenarios mixed in.

    Each message is keyed by account_id and carries its ground truth in the
    `streamguard-scenario` header: `normal` or the fraud scenario's name.

    Exits 1 if the broker does not answer or any message was not delivered, 2 on bad options
    or an unreadable replay file.
    """
    _check(
        math.isfinite(rate) and rate >= 0,
        "--rate",
        f"must be a number of messages a second (0: as fast as possible), not {rate}",
    )
    _check(count is None or count >= 0, "--count", f"must be 0 or more, not {count}")
    _check(duration is None or duration > 0, "--duration", f"must be above 0, not {duration}")
    _check(0 <= fraud_share <= 1, "--fraud-share", f"must be between 0 and 1, not {fraud_share}")
    _check(accounts is None or accounts > 0, "--accounts", f"must be above 0, not {accounts}")
    _check(delivery_timeout > 0, "--delivery-timeout", f"must be above 0, not {delivery_timeout}")
    check_output_file(ground_truth, "--ground-truth")
    check_output_file(write_blacklist, "--write-blacklist")
    try:
        pacing = Burst.parse(burst) if burst else None
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--burst") from None
    start_ms = _epoch_ms(start_time) if start_time else None
    if metrics_port is not None and not dry_run:
        bound = serve_metrics(metrics_port, metrics_host)
        err.print(f"metrics: http://{metrics_host}:{bound}/metrics")

    settings = command_settings(kafka_bootstrap_servers=bootstrap_servers)
    target = topic or settings.transactions_topic
    if dry_run and count is None and duration is None:
        count = 10
    population = Population.build(seed, accounts=accounts or accounts_for(rate or 1000.0))
    if write_blacklist:
        _write_blacklist(population, write_blacklist)
    if replay is not None:
        source: Iterator[Generated] = read_recorded(replay)
    else:
        live = start_ms is None and rate > 0
        source = iter(
            TransactionGenerator(
                population,
                seed=seed if traffic_seed is None else traffic_seed,
                fraud_share=fraud_share,
                scenarios=scenario or None,
                start_ms=start_ms if start_ms is not None else int(time.time() * 1000),
                rate=rate if rate > 0 else 1000.0,
                clock=(lambda: int(time.time() * 1000)) if live else None,
            )
        )
    # SIGTERM (`streamguard stack down`, ./stop.sh) stops like Ctrl-C: flush, report, exit.
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    with ExitStack() as stack:
        truth = (
            stack.enter_context(ground_truth.open("ab" if append_ground_truth else "wb"))
            if ground_truth
            else None
        )
        try:
            if dry_run:
                printed = _print(source, target, count, truth)
                err.print(f"dry run: printed {printed} messages, sent none")
                return
            timeout_ms = max(1, round(delivery_timeout * 1000))
            sender = Sender(settings.kafka, target, **{"message.timeout.ms": timeout_ms})
            _connect(sender, settings.kafka, min(_CONNECT_TIMEOUT_S, delivery_timeout))
            report = send(sender, source, Pacer(rate, pacing), count, duration, truth)
        except ProducerError as exc:
            err.print(f"[red]error:[/red] {escape(str(exc))}", highlight=False)
            raise typer.Exit(2) from None
    err.print(report.summary())
    if report.failed:
        raise typer.Exit(1)


def _connect(sender: Sender, bootstrap_servers: str, timeout_s: float) -> None:
    """Fails at once, saying so, when the broker does not answer: each message would otherwise
    wait out --delivery-timeout in the producer's queue and fail only then."""
    try:
        sender.connect(timeout_s)
    except SendError as exc:
        err.print(
            f"[red]error:[/red] {escape(str(exc))} (at {escape(bootstrap_servers)}); start the "
            "stack (./start.sh, or streamguard stack up) or name another broker with "
            "--bootstrap-servers or KAFKA_BOOTSTRAP_SERVERS",
            highlight=False,
        )
        raise typer.Exit(1) from None


def _print(
    source: Iterator[Generated], topic: str, count: int | None, truth: BinaryIO | None
) -> int:
    printed = 0
    for txn in itertools.islice(source, count):
        line = {
            "topic": topic,
            "key": txn.key.decode(),
            "headers": {SCENARIO_HEADER: txn.scenario.value},
            "value": txn.fields(),
        }
        sys.stdout.write(json.dumps(line) + "\n")
        if truth:
            truth.write(txn.ground_truth_line())
        printed += 1
    return printed


class _FailureNotice:
    """A line when messages fail to be delivered (a broker gone for longer than
    --delivery-timeout), at most every `_NOTICE_S`: the progress bar is drawn only on a terminal,
    and a producer writing to a log (the stack's) otherwise said nothing until it exited."""

    def __init__(self, report: DeliveryReport) -> None:
        self.report = report
        self.told = 0
        self.at = -math.inf

    def tell(self, now: float) -> None:
        new = self.report.failed - self.told
        if new <= 0 or now - self.at < _NOTICE_S:
            return
        reason = self.report.errors.most_common(1)[0][0] if self.report.errors else "unknown"
        err.print(f"{new:,} message(s) NOT delivered ({reason}); {self.report.failed:,} in all")
        self.told, self.at = self.report.failed, now


# The shortest time between two lines about failed deliveries.
_NOTICE_S = 10.0


def send(
    sender: Sender,
    source: Iterator[Generated],
    pacer: Pacer,
    count: int | None = None,
    duration: float | None = None,
    truth: BinaryIO | None = None,
) -> DeliveryReport:
    """Send `source` at the pacer's rate until `count` messages, `duration` seconds or its end.

    Messages go in batches of what is due, so the clock is read once a batch, not once a
    message. Always flushes, also after Ctrl-C, and returns the final delivery report.
    """
    report = sender.report
    deadline = pacer.started + duration if duration is not None else math.inf
    progress = Progress(
        TextColumn(f"[bold]producing[/bold] to {sender.topic}"),
        BarColumn(),
        TextColumn("{task.completed:,.0f} sent"),
        TextColumn("{task.fields[delivered]:,} delivered"),
        TextColumn("{task.fields[failed]:,} failed"),
        TextColumn("{task.fields[rate]:,.0f}/s"),
        TimeElapsedColumn(),
        console=err,
        transient=False,
        # Redrawn ten times a second on a terminal; into a log file (the stack's producer)
        # nothing is drawn until the end, and the redrawing thread alone cost half a percent
        # of a core.
        auto_refresh=err.is_terminal,
    )
    with progress:
        task = progress.add_task("produce", total=count, delivered=0, failed=0, rate=0.0)
        shown = 0.0
        failures = _FailureNotice(report)
        try:
            while count is None or report.sent < count:
                now = time.monotonic()
                most = BATCH if count is None else min(BATCH, count - report.sent)
                if now >= deadline:
                    # What fell due by the deadline still goes: `--rate R --duration S` sends
                    # R * S, not one message fewer.
                    if not pacer.unlimited:
                        _send_batch(sender, source, pacer.due(report.sent, deadline), truth)
                    break
                due = pacer.due(report.sent, now, most=most)
                if due == 0:
                    pause = pacer.seconds_until_due(report.sent, now)
                    time.sleep(min(max(pause, 0.0005), 0.05, deadline - now))
                    continue
                if _send_batch(sender, source, due, truth) < due:
                    break  # a replayed file has ended
                if now - shown > 0.25:
                    shown = now
                    _show(progress, task, sender.poll(), now - pacer.started)
                    failures.tell(now)
        except KeyboardInterrupt:
            err.print("interrupted: flushing what was sent")
        sender.flush()
        _show(progress, task, report, time.monotonic() - pacer.started)
    return report


def _send_batch(
    sender: Sender, source: Iterator[Generated], due: int, truth: BinaryIO | None
) -> int:
    if truth is None:
        return sender.send_all(itertools.islice(source, due))
    batch = list(itertools.islice(source, due))
    sender.send_all(batch)
    truth.writelines(txn.ground_truth_line() for txn in batch)
    # Readers follow the file while the producer runs (the end-to-end test does).
    truth.flush()
    return len(batch)


def _show(progress: Progress, task: TaskID, report: DeliveryReport, elapsed_s: float) -> None:
    progress.update(
        task,
        completed=report.sent,
        delivered=report.delivered,
        failed=report.failed,
        rate=report.sent / max(elapsed_s, 1e-6),
    )


def _write_blacklist(population: Population, path: Path) -> None:
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=["kind", "value", "reason"])
        writer.writeheader()
        writer.writerows(population.blacklist_rows())
