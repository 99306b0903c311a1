"""The `streamguard` command: one entry point, a subcommand per job."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from streamguard import stack
from streamguard.consumer.command import blacklist_app, consume_command, db_app
from streamguard.producer.command import produce_command
from streamguard.settings import get_settings

app = typer.Typer(
    name="streamguard",
    help=(
        "StreamGuard: real-time card fraud detection whose rules are ksqlDB SQL.\n\n"
        "Transactions flow into Kafka, ksqlDB rules (versioned files in ksql/) turn them into "
        "alerts, and a consumer writes the alerts, enriched with blacklists, to PostgreSQL."
    ),
    no_args_is_help=True,
    rich_markup_mode="rich",
)
stack_app = typer.Typer(
    help=(
        "The local stack of real parts for machines without Docker: an Apache Kafka broker "
        "(KRaft) and an embedded PostgreSQL on 127.0.0.1. Ports, pids and data live under the "
        "state dir."
    ),
    no_args_is_help=True,
)
app.add_typer(stack_app, name="stack")
app.command("produce")(produce_command)
app.command("consume")(consume_command)
app.add_typer(db_app, name="db")
app.add_typer(blacklist_app, name="blacklist")

console = Console()
err_console = Console(stderr=True)

StateDir = Annotated[
    Path | None,
    typer.Option(
        "--state-dir",
        help="Where the stack keeps data, logs, pids and ports [default: .streamguard, or "
        "STREAMGUARD_STATE_DIR].",
        show_default=False,
    ),
]


def _state_dir(option: Path | None) -> Path:
    return get_settings(state_dir=option).state_dir


@stack_app.command("up")
def stack_up(
    state_dir: StateDir = None,
    kafka_port: Annotated[
        int, typer.Option(help="Preferred Kafka port; a taken one is replaced by a free one.")
    ] = stack.kafka.DEFAULT_PORT,
    postgres_port: Annotated[
        int, typer.Option(help="Preferred PostgreSQL port; a taken one is replaced.")
    ] = stack.postgres.DEFAULT_PORT,
) -> None:
    """Start Kafka and PostgreSQL; parts already running are left alone."""
    directory = _state_dir(state_dir)
    with console.status("Starting the local stack (the first run fetches Kafka's jars)..."):
        try:
            stack.up(directory, kafka_port=kafka_port, postgres_port=postgres_port)
        except stack.StackError as exc:
            err_console.print(f"[red]error:[/red] {exc}")
            raise typer.Exit(1) from None
    _print_status(directory)


@stack_app.command("status")
def stack_status(state_dir: StateDir = None) -> None:
    """Show each part's address, pid and health; exit 1 when a part is down."""
    if not _print_status(_state_dir(state_dir)):
        raise typer.Exit(1)


@stack_app.command("down")
def stack_down(
    state_dir: StateDir = None,
    purge: Annotated[bool, typer.Option("--purge", help="Also delete the parts' data.")] = False,
) -> None:
    """Stop the processes the stack started (by their recorded pids); keep data unless --purge."""
    directory = _state_dir(state_dir)
    stopped = stack.down(directory, purge=purge)
    console.print(f"stopped: {', '.join(stopped)}" if stopped else "nothing was running")
    if purge:
        console.print(f"purged the stack's data under {directory}")


def _print_status(state_dir: Path) -> bool:
    table = Table(title=f"local stack ({state_dir})")
    for column in ("part", "address", "pid", "health", "log"):
        table.add_column(column)
    healthy = True
    for part in stack.status(state_dir):
        health = (
            "[green]healthy[/green]"
            if part.healthy
            else ("[yellow]running, not ready[/yellow]" if part.running else "[red]down[/red]")
        )
        healthy &= part.healthy
        table.add_row(part.name, part.address or "-", str(part.pid or "-"), health, part.log or "")
    console.print(table)
    return healthy


def main() -> None:
    app()


if __name__ == "__main__":
    main()
