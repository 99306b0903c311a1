"""The `streamguard blacklist ...` commands: blocked accounts, cards, merchants, countries."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from streamguard import terminal
from streamguard.cli_options import DatabaseUrl, command_settings
from streamguard.models import BlacklistKind
from streamguard.times import parse_time

# The blacklist and the database are imported when a command runs: SQLAlchemy would otherwise
# slow every `streamguard` command's start.

console = Console()
err = terminal.stderr

blacklist_app = typer.Typer(
    help="Blocked accounts, cards, merchants and countries; the running consumer sees changes "
    "within seconds.",
    no_args_is_help=True,
)


def _expiry(expires: str | None, expires_in: str | None) -> datetime | None:
    if expires and expires_in:
        raise typer.BadParameter("give --expires or --expires-in, not both")
    if expires:
        try:
            return parse_time(expires)
        except ValueError as exc:
            raise typer.BadParameter(str(exc), param_hint="--expires") from None
    if expires_in:
        units = {"m": 60, "h": 3600, "d": 86400}
        number, unit = expires_in[:-1], expires_in[-1:]
        if unit not in units or not number.isdigit():
            raise typer.BadParameter("like 30m, 12h or 7d", param_hint="--expires-in")
        return datetime.now(UTC) + timedelta(seconds=int(number) * units[unit])
    return None


@blacklist_app.command("add")
def blacklist_add(
    kind: Annotated[BlacklistKind, typer.Argument(help="What is blocked.")],
    value: Annotated[
        str, typer.Argument(help="The account, card or merchant id, or country code.")
    ],
    reason: Annotated[str, typer.Option(help="Why, for the analysts who see the hit.")] = "",
    added_by: Annotated[str, typer.Option(help="Who added it.")] = "cli",
    expires: Annotated[str | None, typer.Option(help="Expiry time (ISO 8601).")] = None,
    expires_in: Annotated[str | None, typer.Option(help="Expiry from now: 30m, 12h, 7d.")] = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Block an account, card, merchant or country (replaces an existing entry)."""
    from streamguard import blacklist as bl
    from streamguard import db

    engine = db.create_engine(command_settings(database_url=database_url).database)
    entry = bl.Entry(kind, value, reason, added_by, expires_at=_expiry(expires, expires_in))
    try:
        written = bl.add(engine, [entry])
    except bl.BlacklistError as exc:
        err.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from None
    console.print(bl.added_text(kind, value, written))


@blacklist_app.command("remove")
def blacklist_remove(
    kind: Annotated[BlacklistKind, typer.Argument()],
    value: Annotated[str, typer.Argument()],
    database_url: DatabaseUrl = None,
) -> None:
    """Unblock an entry; exits 1 when there was none."""
    from streamguard import blacklist as bl
    from streamguard import db

    engine = db.create_engine(command_settings(database_url=database_url).database)
    if not bl.remove(engine, kind, value):
        err.print(f"no blacklist entry for {kind.value} {value}")
        raise typer.Exit(1)
    console.print(f"removed {kind.value} {value}")


@blacklist_app.command("list")
def blacklist_list(
    all_entries: Annotated[bool, typer.Option("--all", help="Include expired entries.")] = False,
    database_url: DatabaseUrl = None,
) -> None:
    """List the blacklist (active entries unless --all)."""
    from streamguard import blacklist as bl
    from streamguard import db

    engine = db.create_engine(command_settings(database_url=database_url).database)
    table = Table("kind", "value", "reason", "added by", "added at", "expires at")
    for e in bl.entries(engine, include_expired=all_entries):
        table.add_row(
            e.kind.value,
            e.value,
            e.reason,
            e.added_by,
            f"{e.added_at:%Y-%m-%d %H:%M}" if e.added_at else "",
            f"{e.expires_at:%Y-%m-%d %H:%M}" if e.expires_at else "never",
        )
    console.print(table)


@blacklist_app.command("import")
def blacklist_import(
    path: Annotated[
        Path,
        typer.Argument(
            help="CSV with columns kind,value[,reason,expires_at].", exists=True, dir_okay=False
        ),
    ],
    added_by: Annotated[str, typer.Option(help="Who added them.")] = "import",
    database_url: DatabaseUrl = None,
) -> None:
    """Add every entry of a CSV file (nothing is added if any row is wrong)."""
    from streamguard import blacklist as bl
    from streamguard import db

    try:
        entries = bl.read_csv(path, added_by=added_by)
    except bl.BlacklistError as exc:
        err.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from None
    engine = db.create_engine(command_settings(database_url=database_url).database)
    written = bl.add(engine, entries)
    console.print(f"imported {written.total} entries from {path}{written.replacing()}")


@blacklist_app.command("load-population")
def blacklist_load_population(
    seed: Annotated[
        int, typer.Option(help="The producer's seed, whose population's blacklist is loaded.")
    ] = 42,
    database_url: DatabaseUrl = None,
) -> None:
    """Load the blacklist of the producer's population: its mule accounts and the merchants
    under investigation that the `blacklisted` scenario uses (replacing entries of the same
    kind and value). `./start.sh` runs it, so that those alerts show their blacklist hits."""
    from streamguard import blacklist as bl
    from streamguard import db
    from streamguard.producer.population import Population

    engine = db.create_engine(command_settings(database_url=database_url).database)
    rows = Population.build(seed, accounts=0).blacklist_rows()
    written = bl.add(engine, bl.entries_of_rows(rows, added_by="population"))
    console.print(
        f"loaded {written.total} blacklist entries of the population of seed {seed}"
        f"{written.replacing()}"
    )
