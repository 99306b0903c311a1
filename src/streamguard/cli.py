"""The `streamguard` command: one entry point, a subcommand per job."""

from __future__ import annotations

import inspect
import sys
import time
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from streamguard import stack, terminal
from streamguard.blacklist_command import blacklist_app
from streamguard.cli_options import (
    POSTGRES_HINT,
    GlobalOptions,
    command_settings,
    global_options,
    use_global_options,
)
from streamguard.console.command import console_command
from streamguard.consumer.command import consume_command
from streamguard.db_command import db_app
from streamguard.migrations.command import migrate_app
from streamguard.producer.command import produce_command
from streamguard.rules.command import rules_app
from streamguard.settings import Settings

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
        "(KRaft), an embedded PostgreSQL and the ksqlDB emulator, on 127.0.0.1. Ports, pids and "
        "data live under the state dir."
    ),
    no_args_is_help=True,
)
app.add_typer(stack_app, name="stack")
app.command("produce")(produce_command)
app.command("consume")(consume_command)
app.command("console")(console_command)
app.add_typer(db_app, name="db")
app.add_typer(blacklist_app, name="blacklist")
app.add_typer(migrate_app, name="migrate")
app.add_typer(rules_app, name="rules")

console = Console()
err_console = terminal.stderr

StateDir = Annotated[
    Path | None,
    typer.Option(
        "--state-dir",
        help="Where the stack keeps data, logs, pids and ports \\[default: .streamguard, or "
        "STREAMGUARD_STATE_DIR].",
        show_default=False,
    ),
]


def _state_dir(option: Path | None) -> Path:
    directory = command_settings(state_dir=option).state_dir
    if directory.exists() and not directory.is_dir():
        raise typer.BadParameter(f"{directory} is a file, not a folder", param_hint="--state-dir")
    return directory


@app.callback()
def _global_options(
    state_dir: Annotated[
        Path | None,
        typer.Option(
            "--state-dir",
            help="The local stack's state dir, where every command finds its addresses "
            "\\[default: .streamguard, or STREAMGUARD_STATE_DIR].",
            show_default=False,
        ),
    ] = None,
) -> None:
    if state_dir is not None and state_dir.exists() and not state_dir.is_dir():
        # Every command reads its addresses there: refused here, not as each one's traceback.
        raise typer.BadParameter(f"{state_dir} is a file, not a folder", param_hint="--state-dir")
    use_global_options(GlobalOptions(state_dir=state_dir))


@stack_app.command("up")
def stack_up(
    state_dir: StateDir = None,
    kafka_port: Annotated[
        int,
        typer.Option(
            min=0, max=65535, help="Preferred Kafka port; a taken one is replaced by a free one."
        ),
    ] = stack.kafka.DEFAULT_PORT,
    postgres_port: Annotated[
        int,
        typer.Option(min=0, max=65535, help="Preferred PostgreSQL port; a taken one is replaced."),
    ] = stack.postgres.DEFAULT_PORT,
    ksqldb_port: Annotated[
        int,
        typer.Option(
            min=0, max=65535, help="Preferred port of the ksqlDB REST API; a taken one is replaced."
        ),
    ] = stack.ksqldb.DEFAULT_PORT,
    ksqldb: Annotated[
        bool, typer.Option(help="Also start the ksqlDB emulator (its REST API).")
    ] = True,
) -> None:
    """Start Kafka, PostgreSQL and the ksqlDB emulator; parts already running are left alone."""
    directory = _state_dir(state_dir)
    with console.status("Starting the local stack (the first run fetches Kafka's jars)..."):
        try:
            stack.up(
                directory,
                kafka_port=kafka_port,
                postgres_port=postgres_port,
                ksqldb_port=ksqldb_port,
                with_ksqldb=ksqldb,
            )
        except stack.StackError as exc:
            err_console.print(f"[red]error:[/red] {escape(str(exc))}")
            raise typer.Exit(1) from None
    _print_status(directory)


@stack_app.command("apps")
def stack_apps(
    state_dir: StateDir = None,
    rate: Annotated[float, typer.Option(help="The producer's transactions per second.")] = 20.0,
    fraud_share: Annotated[float, typer.Option(help="The producer's share of fraud.")] = 0.05,
    producer: Annotated[
        bool, typer.Option(help="Start the producer too (--no-producer: the consumer only).")
    ] = True,
    web_console: Annotated[
        bool, typer.Option("--console/--no-console", help="Start the web console too.")
    ] = True,
    console_port: Annotated[
        int,
        typer.Option(
            min=0, max=65535, help="Preferred port of the console; a taken one is replaced."
        ),
    ] = stack.CONSOLE_PORT,
    seed: Annotated[int, typer.Option(help="The producer's seed (population and traffic).")] = 42,
) -> None:
    """Start the consumer, the web console and the producer in the background, logs and pids in
    the state dir.

    Run after `stack up`, `db upgrade` and `migrate apply --all`; `stack down` stops them first.
    With the producer, the blacklist of its population (mule accounts, merchants under
    investigation) is loaded first, so the `blacklisted` scenario's alerts show their hits.
    The producer writes its ground truth to <state dir>/apps/ground-truth.jsonl, each start's
    added to it; each start sends new transactions of the same population. The consumer and
    the producer serve Prometheus metrics on free ports (`stack address consumer --metrics`).
    """
    directory = _state_dir(state_dir)
    truth = directory.resolve() / "apps" / "ground-truth.jsonl"
    producer_args = None
    if producer:
        # The population of `seed` (its blacklist is loaded below), its traffic new at each
        # start: the same traffic again would re-send transactions the pipeline has seen.
        producer_args = ["--rate", str(rate), "--fraud-share", str(fraud_share), "--seed",
                         str(seed), "--traffic-seed", str(time.time_ns() % 2**31),
                         "--ground-truth", str(truth), "--append-ground-truth"]  # fmt: skip
        _load_population_blacklist(directory, seed)
        if any(p.running for p in stack.status(directory, only=("producer",))):
            console.print(
                "the producer runs already, at the rate and fraud share it was started with "
                "(./stop.sh, then ./start.sh, to change them)"
            )
    try:
        stack.start_apps(
            directory, producer_args=producer_args, console=web_console, console_port=console_port
        )
    except stack.StackError as exc:
        err_console.print(f"[red]error:[/red] {escape(str(exc))}")
        raise typer.Exit(1) from None
    _print_status(directory)


def _load_population_blacklist(directory: Path, seed: int) -> None:
    from sqlalchemy.exc import SQLAlchemyError

    from streamguard import blacklist, db
    from streamguard.producer.population import Population

    rows = Population.build(seed, accounts=0).blacklist_rows()
    engine = db.create_engine(command_settings(state_dir=directory).database)
    try:
        written = blacklist.add(engine, blacklist.entries_of_rows(rows, added_by="population"))
    except SQLAlchemyError as exc:
        err_console.print(
            f"[red]error:[/red] cannot load the population's blacklist (did `streamguard db "
            f"upgrade` run?): {escape(str(exc).splitlines()[0])}"
        )
        raise typer.Exit(1) from None
    finally:
        engine.dispose()
    console.print(
        f"loaded the blacklist of the producer's population: {written.total} entries"
        + (f" ({written.replaced} of them listed already)" if written.replaced else "")
    )


@stack_app.command("status")
def stack_status(state_dir: StateDir = None) -> None:
    """Show each part's address, pid and health; exit 1 when a part that was started is down.

    A part nobody started shows "not started" and one `stack down` stopped shows "stopped":
    neither is a failure. A part that was started and died, or runs and does not answer, is.
    """
    if not _print_status(_state_dir(state_dir)):
        raise typer.Exit(1)


@stack_app.command("address")
def stack_address(
    part: Annotated[str, typer.Argument(help="kafka, postgres, ksqldb, console, consumer, ...")],
    state_dir: StateDir = None,
    metrics: Annotated[
        bool, typer.Option("--metrics", help="The part's Prometheus metrics URL instead.")
    ] = False,
) -> None:
    """Print where a running part of the stack answers (for scripts); exit 1 when it does not."""
    directory = _state_dir(state_dir)
    try:
        address = stack.address(directory, part, metrics=metrics)
    except stack.StackError as exc:
        err_console.print(escape(str(exc)))
        raise typer.Exit(1) from None
    console.print(address, highlight=False, soft_wrap=True)


@stack_app.command("down")
def stack_down(
    state_dir: StateDir = None,
    purge: Annotated[bool, typer.Option("--purge", help="Also delete the parts' data.")] = False,
) -> None:
    """Stop the processes the stack started (by their recorded pids); keep data unless --purge."""
    directory = _state_dir(state_dir)
    try:
        stopped = stack.down(directory, purge=purge)
    except stack.StackError as exc:
        err_console.print(f"[red]error:[/red] {escape(str(exc))}")
        raise typer.Exit(1) from None
    console.print(f"stopped: {', '.join(stopped)}" if stopped else "nothing was running")
    if purge:
        console.print(f"purged the stack's data under {directory}")


def _print_status(state_dir: Path) -> bool:
    table = Table(title=f"local stack ({state_dir})")
    for column in ("part", "address", "pid", "health", "log"):
        table.add_column(column, overflow="fold")
    failed = False
    for part in stack.status(state_dir):
        failed |= part.failed
        health = _HEALTH_STYLE[part.health].format(part.health)
        table.add_row(part.name, part.address or "-", str(part.pid or "-"), health, part.log or "")
    console.print(table)
    return not failed


_HEALTH_STYLE: dict[stack.Health, str] = {
    "healthy": "[green]{}[/green]",
    "not ready": "[yellow]running, {}[/yellow]",
    "died": "[red]down: it {} (see its log)[/red]",
    "stopped": "[dim]{}[/dim]",
    "not started": "[dim]{}[/dim]",
}


SEVERITY_STYLE = {"LOW": "dim", "MEDIUM": "yellow", "HIGH": "red", "CRITICAL": "bold red"}


@app.command("status")
def status_command() -> None:
    """Each part's health, the consumer group's lag, and the alerts per rule."""
    from streamguard import db, monitor

    settings = command_settings()
    parts = Table(title="parts")
    for column in ("part", "address", "health", "detail"):
        # An address is copied whole: folded onto the next line, never cut short.
        parts.add_column(column, overflow="fold")
    checks = monitor.health(settings)
    healthy = all(h.healthy for h in checks)
    for h in checks:
        mark = "[green]healthy[/green]" if h.healthy else "[red]down[/red]"
        parts.add_row(h.part, h.address, mark, h.detail)
    died = _local_apps(settings, parts)
    console.print(parts)
    kafka_up = any(h.part == "kafka" and h.healthy for h in checks)
    lag = monitor.consumer_lag(settings) if kafka_up else {}
    if lag:
        table = Table(title=f"consumer group {settings.consumer_group} on {settings.alerts_topic}")
        for column in ("partition", "committed", "end", "lag"):
            table.add_column(column, justify="right")
        for partition, (committed, end) in sorted(lag.items()):
            table.add_row(str(partition), str(committed), str(end), str(end - committed))
        console.print(table)
        behind = sum(end - committed for committed, end in lag.values())
        console.print(f"consumer lag: {behind} alert(s) not yet in PostgreSQL")
    try:
        counts = monitor.alerts_per_rule(db.create_engine(settings.database))
    except Exception as exc:  # the database may be down or not migrated yet
        err_console.print(f"alerts per rule unavailable: {escape(db.error_line(exc))}")
        counts = []
    if counts:
        table = Table(title="alerts per rule")
        for column in ("rule", "alerts", "last seen"):
            table.add_column(column)
        for rule, count, last in counts:
            table.add_row(rule, str(count), f"{last:%Y-%m-%d %H:%M:%S}" if last else "")
        console.print(table)
    if died:
        err_console.print(
            f"{' and '.join(died)} of the local stack died: ./start.sh starts "
            f"{'them' if len(died) > 1 else 'it'} again (its log: `streamguard stack status`)."
        )
    if not healthy:
        err_console.print(
            "Start what is down with ./start.sh (or streamguard stack up), or point the "
            "settings at running servers (README: Configuration)."
        )
    if died or not healthy:
        raise typer.Exit(1)


def _local_apps(settings: Settings, parts: Table) -> list[str]:
    """The local stack's consumer, producer and console as rows of `parts` (a Docker stack or
    servers of one's own have none recorded); the names of those that died."""
    if not settings.stack_state():
        given = global_options().state_dir
        if given is not None:
            # A mistyped --state-dir would otherwise show whatever the settings name as its.
            err_console.print(
                f"no local stack in {escape(str(given))}: these are the settings' addresses"
            )
        return []
    died = []
    # The apps alone: the servers' health is the table's already (monitor.health).
    for part in stack.status(settings.state_dir, only=stack.apps.APPS):
        if part.health == "healthy":
            mark = "[green]healthy[/green]"
        elif part.health == "died":
            mark = "[red]down: died[/red]"
            died.append(part.name)
        else:
            mark = f"[yellow]{part.health}[/yellow]"
        parts.add_row(part.name, part.address or "", mark, f"pid {part.pid}" if part.pid else "")
    return died


@app.command("alerts")
def alerts_command(
    limit: Annotated[int, typer.Option(help="How many of the latest alerts.")] = 20,
    follow: Annotated[
        bool, typer.Option("--follow", "-f", help="Keep printing new alerts as they arrive.")
    ] = False,
    interval: Annotated[float, typer.Option(help="Seconds between checks with --follow.")] = 1.0,
) -> None:
    """The latest alerts in PostgreSQL, newest last."""
    from streamguard import db, monitor

    engine = db.create_engine(command_settings().database)
    rows = monitor.latest_alerts(engine, limit=limit)
    _print_alerts(rows)
    last = rows[-1]["last_seen_at"] if rows else None
    while follow:
        time.sleep(interval)
        rows = monitor.latest_alerts(engine, limit=1000, after=last)
        if rows:
            _print_alerts(rows, title=None)
            last = rows[-1]["last_seen_at"]


def _print_alerts(rows: list[dict[str, Any]], title: str | None = "latest alerts") -> None:
    table = Table(title=title, show_header=title is not None)
    for column in (
        "seen",
        "rule",
        "severity",
        "risk",
        "account",
        "amount",
        "count",
        "country",
        "blacklist",
    ):
        table.add_column(column)
    for r in rows:
        money = r["amount"] if r["amount"] is not None else r["total_amount"]
        hits = ", ".join(f"{h['kind']}:{h['value']}" for h in r["blacklist_hits"])
        table.add_row(
            f"{r['last_seen_at']:%H:%M:%S}",
            r["rule_id"],
            f"[{SEVERITY_STYLE.get(r['severity'], '')}]{r['severity']}[/]",
            str(r["risk_score"]),
            r["account_id"],
            "" if money is None else str(money),
            "" if r["txn_count"] is None else str(r["txn_count"]),
            r["country"] or "",
            hits,
        )
    console.print(table)


def _flow_help(typer_app: typer.Typer) -> None:
    """Each paragraph of every command's docstring as one line, for the terminal to wrap.

    Rich help keeps the line breaks of a docstring after its first paragraph: wrapped again at
    the terminal's width, a line of the source ended mid-sentence on a line of its own."""
    for info in typer_app.registered_commands:
        if info.help is None and info.callback is not None:
            doc = inspect.getdoc(info.callback) or ""
            info.help = "\n\n".join(" ".join(p.split()) for p in doc.split("\n\n"))
    for group in typer_app.registered_groups:
        if group.typer_instance is not None:
            _flow_help(group.typer_instance)


_flow_help(app)


def main() -> None:
    try:
        app()
    except Exception as exc:
        said = _database_failure(exc)
        if said is None:
            raise
        err_console.print(f"[red]error:[/red] {escape(said)}")
        raise SystemExit(1) from None


def _database_failure(exc: BaseException) -> str | None:
    """A line for a user instead of a traceback when PostgreSQL is down, unreachable or not
    set up, whichever command needed it (alerts, db, blacklist); None for anything else."""
    errors = sys.modules.get("sqlalchemy.exc")  # loaded by whatever raised it, if anything
    if errors is None:
        return None
    if isinstance(exc, errors.ArgumentError):
        return f"not a database URL: {exc}"
    if not isinstance(exc, errors.DBAPIError):
        return None
    from streamguard.db import error_line

    first = error_line(exc)
    if isinstance(exc, errors.ProgrammingError) and "does not exist" in first:
        return f"PostgreSQL: {first}; has `streamguard db upgrade` created the schema?"
    if isinstance(exc, errors.OperationalError):
        return f"cannot use PostgreSQL: {first}. {POSTGRES_HINT}"
    return None


if __name__ == "__main__":
    main()
