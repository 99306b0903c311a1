"""`streamguard produce`: generated or replayed transactions to Kafka, paced and accounted for."""

from __future__ import annotations

import csv
import json
import math
import sys
import time
from collections.abc import Iterator
from contextlib import ExitStack
from datetime import datetime
from pathlib import Path
from typing import Annotated, TextIO

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from streamguard.producer.generator import Generated, TransactionGenerator
from streamguard.producer.pacing import Burst, Pacer
from streamguard.producer.population import Population
from streamguard.producer.replay import ReplayError, read_recorded
from streamguard.producer.scenarios import SCENARIO_HEADER, Limits, Scenario
from streamguard.producer.sender import Sender
from streamguard.settings import get_settings

err = Console(stderr=True)


def _epoch_ms(text: str) -> int:
    if text.isdigit():
        return int(text)
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise typer.BadParameter(
            f"{text!r} is neither epoch milliseconds nor an ISO time like 2026-01-01T00:00:00Z"
        ) from None
    if moment.tzinfo is None:
        raise typer.BadParameter(f"{text!r} has no time zone: add Z or +00:00")
    return int(moment.timestamp() * 1000)


def _accounts_for(rate: float) -> int:
    """Enough accounts that each sees a normal transaction at most every 30 s at this rate."""
    spacing_s = Limits().normal_account_spacing_ms / 1000
    return max(2000, math.ceil(rate * spacing_s * 1.2))


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
    fraud_share: Annotated[
        float, typer.Option(help="Share of transactions that belong to fraud scenarios (0-1).")
    ] = 0.05,
    scenario: Annotated[
        list[Scenario] | None,
        typer.Option(help="Only these fraud scenarios (repeatable); default: all of them."),
    ] = None,
    start_time: Annotated[
        str | None,
        typer.Option(
            help="Simulated event times from this moment (epoch ms or ISO); with a seed, two runs "
            "are identical. Default: the wall clock."
        ),
    ] = None,
    accounts: Annotated[
        int | None, typer.Option(help="Accounts in the population [default: scaled to --rate].")
    ] = None,
    ground_truth: Annotated[
        Path | None,
        typer.Option(help="Also write each transaction with its scenario (JSON Lines)."),
    ] = None,
    write_blacklist: Annotated[
        Path | None,
        typer.Option(
            help="Write the population's blacklisted accounts and merchants (CSV) and go on."
        ),
    ] = None,
    replay: Annotated[
        Path | None, typer.Option(help="Send the transactions of this .jsonl or .csv file instead.")
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Print the messages instead of sending them.")
    ] = False,
    topic: Annotated[str | None, typer.Option(help="Target topic [default: transactions].")] = None,
    bootstrap_servers: Annotated[
        str | None, typer.Option(help="Kafka [default: settings, or the local stack].")
    ] = None,
) -> None:
    """Produce card transactions: normal traffic with labelled fraud scenarios mixed in.

    Each message is keyed by account_id and carries its ground truth in the
    `streamguard-scenario` header. Exits non-zero if any message was not delivered.
    """
    settings = get_settings(kafka_bootstrap_servers=bootstrap_servers)
    target = topic or settings.transactions_topic
    try:
        pacing = Burst.parse(burst) if burst else None
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--burst") from None
    if dry_run and count is None and duration is None:
        count = 10
    simulated = start_time is not None or rate <= 0
    population = Population.build(seed, accounts=accounts or _accounts_for(rate or 1000.0))
    if write_blacklist:
        _write_blacklist(population, write_blacklist)
    if replay is not None:
        source: Iterator[Generated] = read_recorded(replay)
    else:
        generator = TransactionGenerator(
            population,
            seed=seed,
            fraud_share=fraud_share,
            scenarios=scenario or None,
            start_ms=_epoch_ms(start_time) if start_time else int(time.time() * 1000),
            rate=rate if rate > 0 else 1000.0,
            clock=None if simulated else (lambda: int(time.time() * 1000)),
        )
        source = iter(generator)
    with ExitStack() as stack:
        truth = stack.enter_context(ground_truth.open("w")) if ground_truth else None
        try:
            if dry_run:
                sent = _print(source, target, count, truth)
                err.print(f"dry run: printed {sent} messages, sent none")
                return
            sender = Sender(settings.kafka, target)
            _send(sender, source, Pacer(rate, pacing), count, duration, truth)
        except ReplayError as exc:
            err.print(f"[red]error:[/red] {exc}")
            raise typer.Exit(2) from None
    report = sender.flush()
    err.print(report.summary())
    if report.failed:
        raise typer.Exit(1)


def _print(source: Iterator[Generated], topic: str, count: int | None, truth: TextIO | None) -> int:
    sent = 0
    for txn in source:
        if count is not None and sent >= count:
            break
        line = {
            "topic": topic,
            "key": txn.key.decode(),
            "headers": {SCENARIO_HEADER: txn.scenario.value},
            "value": txn.value,
        }
        sys.stdout.write(json.dumps(line) + "\n")
        if truth:
            truth.write(json.dumps(txn.ground_truth()) + "\n")
        sent += 1
    return sent


def _send(
    sender: Sender,
    source: Iterator[Generated],
    pacer: Pacer,
    count: int | None,
    duration: float | None,
    truth: TextIO | None,
) -> None:
    deadline = pacer.started + duration if duration is not None else None
    report = sender.report
    progress = Progress(
        TextColumn("[bold]producing[/bold] to " + sender.topic),
        BarColumn(),
        TextColumn("{task.completed:,.0f} sent"),
        TextColumn("{task.fields[delivered]:,} delivered"),
        TextColumn("{task.fields[failed]:,} failed"),
        TextColumn("{task.fields[rate]:,.0f}/s"),
        TimeElapsedColumn(),
        console=err,
        transient=False,
    )
    with progress:
        task = progress.add_task("produce", total=count, delivered=0, failed=0, rate=0.0)
        last_update = 0.0
        try:
            for txn in source:
                if count is not None and report.sent >= count:
                    break
                pacer.wait_for(report.sent, deadline)
                now = time.monotonic()
                if deadline is not None and now >= deadline:
                    break
                sender.send(txn)
                if truth:
                    truth.write(json.dumps(txn.ground_truth()) + "\n")
                if now - last_update > 0.25:
                    last_update = now
                    elapsed = max(now - pacer.started, 1e-6)
                    progress.update(
                        task,
                        completed=report.sent,
                        delivered=report.delivered,
                        failed=report.failed,
                        rate=report.sent / elapsed,
                    )
        except KeyboardInterrupt:
            err.print("interrupted: flushing what was sent")
        sender.flush()
        elapsed = max(time.monotonic() - pacer.started, 1e-6)
        progress.update(
            task,
            completed=report.sent,
            delivered=report.delivered,
            failed=report.failed,
            rate=report.sent / elapsed,
        )


def _write_blacklist(population: Population, path: Path) -> None:
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=["kind", "value", "reason"])
        writer.writeheader()
        writer.writerows(population.blacklist_rows())
