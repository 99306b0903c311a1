"""The `streamguard consume` command."""

from __future__ import annotations

import logging
import signal
from types import FrameType
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape

from streamguard import terminal
from streamguard.cli_options import POSTGRES_HINT, DatabaseUrl, command_settings
from streamguard.metrics import MetricsHost, MetricsPort

# The consumer loop (and with it SQLAlchemy) is imported when the command runs:
# it would otherwise slow every `streamguard` command's start.

console = Console()
err = terminal.stderr


def consume_command(
    batch_size: Annotated[
        int, typer.Option(min=1, help="Messages per batch and transaction.")
    ] = 500,
    group: Annotated[str | None, typer.Option(help="Consumer group \\[default: settings].")] = None,
    instance_id: Annotated[
        str | None,
        typer.Option(
            help="A name for this consumer that stays the same across its restarts (Kafka static "
            "membership): restarted within the 10 s session timeout, it takes its partitions back "
            "at once. Give each running consumer its own \\[default: settings, or none]."
        ),
    ] = None,
    topic: Annotated[
        str | None, typer.Option(help="Alerts topic \\[default: fraud_alerts].")
    ] = None,
    dlq_topic: Annotated[
        str | None, typer.Option(help="Dead-letter topic \\[default: fraud_alerts_dlq].")
    ] = None,
    idle_exit: Annotated[
        float | None,
        typer.Option(
            min=0,
            help="Exit after this many seconds without a message, or when PostgreSQL has not "
            "answered by then at the start.",
        ),
    ] = None,
    bootstrap_servers: Annotated[
        str | None, typer.Option(help="Kafka \\[default: settings].")
    ] = None,
    database_url: DatabaseUrl = None,
    metrics_port: MetricsPort = None,
    metrics_host: MetricsHost = "127.0.0.1",
) -> None:
    """Consume fraud alerts into PostgreSQL, enriched with blacklist hits and a risk score.

    Offsets are committed only after the batch is in PostgreSQL; bad messages go to the
    dead-letter topic with the reason. SIGTERM or Ctrl-C finishes the batch, commits, exits 0.
    """
    from confluent_kafka import KafkaException

    from streamguard.consumer.loop import (
        AlertConsumer,
        SchemaOutOfDate,
        StoppedDuringOutage,
        UnreachableAtStart,
        describe_fatal,
    )
    from streamguard.metrics import serve as serve_metrics

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    if metrics_port is not None:
        bound = serve_metrics(metrics_port, metrics_host)
        err.print(f"metrics: http://{metrics_host}:{bound}/metrics")
    settings = command_settings(
        kafka_bootstrap_servers=bootstrap_servers, database_url=database_url
    )
    consumer = AlertConsumer(
        bootstrap_servers=settings.kafka,
        database_url=settings.database,
        topic=topic or settings.alerts_topic,
        dlq_topic=dlq_topic or settings.dlq_topic,
        group_id=group or settings.consumer_group,
        instance_id=instance_id or settings.consumer_instance_id,
        batch_size=batch_size,
    )

    def _stop(signum: int, _frame: FrameType | None) -> None:
        err.print(f"{signal.Signals(signum).name}: finishing the batch, then stopping")
        consumer.stop()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    try:
        stats = consumer.run(idle_exit_s=idle_exit)
    except UnreachableAtStart as exc:
        err.print(
            f"[red]error:[/red] PostgreSQL did not answer ({escape(str(exc))}); nothing was "
            f"read. {POSTGRES_HINT}"
        )
        raise typer.Exit(1) from None
    except StoppedDuringOutage as exc:
        err.print(
            f"[red]stopped while PostgreSQL was unreachable[/red] ({exc}); "
            "the last batch was neither written nor committed and will be read again"
        )
        raise typer.Exit(1) from None
    except SchemaOutOfDate as exc:
        err.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from None
    except KafkaException as exc:
        err.print(f"[red]error:[/red] {describe_fatal(exc.args[0])}")
        raise typer.Exit(1) from None
    err.print(
        f"consumed {stats.consumed}: {stats.written} alerts written, "
        f"{stats.dead_lettered} dead-lettered"
    )
