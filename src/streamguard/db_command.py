"""The `streamguard db ...` commands: the PostgreSQL schema's Alembic revisions."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape

from streamguard import terminal
from streamguard.cli_options import DatabaseUrl, command_settings

# Alembic and SQLAlchemy are imported when a command runs: they would otherwise slow every
# `streamguard` command's start.

console = Console()

db_app = typer.Typer(
    help="PostgreSQL schema migrations (Alembic revisions in migrations/).", no_args_is_help=True
)


@db_app.command("upgrade")
def db_upgrade(
    revision: Annotated[str, typer.Argument(help="Target revision.")] = "head",
    database_url: DatabaseUrl = None,
) -> None:
    """Bring the database schema up to REVISION (default: the newest)."""
    from streamguard import db

    url = command_settings(database_url=database_url).database
    with _revision_named(revision):
        db.upgrade(url, revision)
    console.print(f"database at revision {db.current_revision(url)}")


# Alembic's relative revisions start with a minus: `-1` is a revision here, not an option.
@db_app.command("downgrade", context_settings={"ignore_unknown_options": True})
def db_downgrade(
    revision: Annotated[str, typer.Argument(help="Target revision, e.g. -1 or base.")],
    database_url: DatabaseUrl = None,
) -> None:
    """Take the database schema back to REVISION."""
    from streamguard import db

    url = command_settings(database_url=database_url).database
    with _revision_named(revision):
        db.downgrade(url, revision)
    console.print(f"database at revision {db.current_revision(url) or 'base'}")


@db_app.command("current")
def db_current(database_url: DatabaseUrl = None) -> None:
    """Show the database's revision and the newest one available."""
    from streamguard import db

    url = command_settings(database_url=database_url).database
    current, head = db.current_revision(url), db.head_revision(url)
    note = "up to date" if current == head else "run `streamguard db upgrade`"
    console.print(f"current: {current or 'none'}, newest: {head} ({note})")


@contextmanager
def _revision_named(revision: str) -> Iterator[None]:
    """Alembic's refusal of a revision (unknown, or not reachable from here) as a usage error."""
    from alembic.util.exc import CommandError

    try:
        yield
    except CommandError as exc:
        terminal.stderr.print(
            f"[red]error:[/red] revision {escape(revision)!r}: {escape(str(exc))}"
        )
        raise typer.Exit(2) from None
