"""`streamguard migrate`: ksql-migrations' verbs and flags over the runner's verbs."""

from __future__ import annotations

import shlex
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from streamguard import terminal
from streamguard.cli_options import command_settings
from streamguard.ksqldb import KsqlClient, KsqlConnectionError, KsqlError
from streamguard.migrations import verbs
from streamguard.migrations.config import CONFIG_FILE_NAME, MigrationConfig, resolve_config
from streamguard.migrations.connection import read_headers
from streamguard.migrations.defines import as_flags, defines_file, effective_defines
from streamguard.migrations.errors import MigrationError
from streamguard.migrations.runner import Target

migrate_app = typer.Typer(
    help=(
        "Apply the ksqlDB migrations in ksql/ (ksql-migrations' files, verbs and metadata, so "
        "either tool can take over a project from the other)."
    ),
    no_args_is_help=True,
)

console = Console(highlight=False)
err_console = terminal.stderr

# The CLI opens its client here, so tests can hand it a fake transport.
client_factory: Callable[[MigrationConfig], KsqlClient] = verbs.open_client

ConfigFile = Annotated[
    Path | None,
    typer.Option(
        "--config-file",
        "-c",
        help="ksql-migrations.properties to use (default: ./ksql-migrations.properties if "
        "present, else StreamGuard's settings, KSQLDB_URL, with migrations in ksql/).",
        show_default=False,
    ),
]


# `-c FILE` before the verb, as ksql-migrations takes it (`migrate -c FILE apply --all`).
_global_config: dict[str, Path | None] = {"file": None}


@migrate_app.callback()
def _migrate_options(
    config_file: Annotated[
        Path | None,
        typer.Option(
            "--config-file",
            "-c",
            help="ksql-migrations.properties to use, for every verb (also accepted after it).",
            show_default=False,
        ),
    ] = None,
) -> None:
    _global_config["file"] = config_file


def _config_file(given: Path | None) -> Path | None:
    before = _global_config["file"]
    if given is not None and before is not None and given != before:
        raise typer.BadParameter(
            f"two config files: {before} before the verb and {given} after it; give one",
            param_hint="-c/--config-file",
        )
    return given or before


@contextmanager
def _reported() -> Iterator[None]:
    try:
        yield
    except (MigrationError, KsqlError) as exc:
        err_console.print(f"[red]error:[/red] {escape(str(exc))}")
        raise typer.Exit(1) from None


@contextmanager
def _session(
    config_file: Path | None, headers_file: Path | None = None
) -> Iterator[tuple[MigrationConfig, KsqlClient]]:
    with _reported():
        settings = command_settings()
        config = resolve_config(_config_file(config_file), settings=settings)
        if headers_file is not None:
            config = replace(config, headers=read_headers(headers_file))
        client = client_factory(config)
        try:
            yield config, client
        except (KsqlConnectionError, MigrationError) as exc:
            unreachable = (exc, exc.__cause__, exc.__context__)
            if config.source == "StreamGuard settings" or not any(
                isinstance(e, KsqlConnectionError) for e in unreachable
            ):
                raise
            # The committed file names localhost:8088; a local stack may listen elsewhere.
            copy = settings.state_dir / CONFIG_FILE_NAME
            raise MigrationError(
                f"{exc}\nThe server comes from {config.source}; StreamGuard's settings name "
                f"{settings.ksqldb}. For the local stack, use the copy ./start.sh writes, "
                f"which names the stack's own: -c {copy} (to write it: python -m "
                f"streamguard.migrations.local_config {copy})"
            ) from None
        finally:
            client.close()


@migrate_app.command("new-project")
def new_project_command(
    project_path: Annotated[Path, typer.Argument(help="Folder of the new project.")],
    server_url: Annotated[str, typer.Argument(help="The ksqlDB server's URL.")],
) -> None:
    """Create a migrations project: a `migrations/` folder and its properties file."""
    with _reported():
        path = verbs.new_project(project_path, server_url)
    console.print(f"Created {path} and {project_path / 'migrations'}")


@migrate_app.command("initialize-metadata")
def initialize_metadata_command(config_file: ConfigFile = None) -> None:
    """Create the migrations metadata stream and table on the server."""
    with _session(config_file) as (config, client):
        existing = verbs.initialize_metadata(config, client)
        if len(existing) == 2:
            console.print(
                f"Stream {config.stream_name} and table {config.table_name} exist already: "
                "migrations metadata initialized before."
            )
        elif existing:
            console.print(f"{existing[0]} existed already; created the other: metadata ready.")
        else:
            console.print(
                f"Created stream {config.stream_name} and table {config.table_name}: "
                "migrations metadata initialized."
            )


@migrate_app.command("create")
def create_command(
    description: Annotated[str, typer.Argument(help="What the migration does, e.g. Add_rule.")],
    version: Annotated[
        int | None,
        typer.Option("--version", "-v", min=1, max=999999, help="Version (default: the next)."),
    ] = None,
    config_file: ConfigFile = None,
) -> None:
    """Create an empty migration file for the next (or given) version."""
    with _reported():
        path = verbs.create(
            resolve_config(_config_file(config_file), settings=command_settings()),
            description,
            version,
        )
    console.print(f"Created {path}")


@migrate_app.command("apply")
def apply_command(
    all_: Annotated[bool, typer.Option("--all", "-a", help="Apply every pending migration.")] = (
        False
    ),
    next_: Annotated[bool, typer.Option("--next", "-n", help="Apply the next migration.")] = False,
    until: Annotated[
        int | None,
        typer.Option("--until", "-u", min=1, max=999999, help="Apply up to this version."),
    ] = None,
    version: Annotated[
        int | None,
        typer.Option("--version", "-v", min=1, max=999999, help="Apply just this version."),
    ] = None,
    dry_run: Annotated[
        bool,
        typer.Option("--dry-run", help="Show the files and statements; send nothing to run."),
    ] = False,
    define: Annotated[
        list[str] | None,
        typer.Option(
            "--define",
            "-d",
            help="name=value for ${name}; repeatable. As in ksql-migrations, defined before "
            "each file runs, so a file's own DEFINE of the name wins; the rules of ksql/ "
            "DEFINE no thresholds, which come from ksql-defines.properties unless given here.",
        ),
    ] = None,
    takeover: Annotated[
        bool,
        typer.Option(
            "--takeover", help="Carry on after a runner that died and left a version RUNNING."
        ),
    ] = False,
    skip_rule_tests: Annotated[
        bool,
        typer.Option(
            "--skip-rule-tests",
            help="Apply rules without running their cases in tests/rules/cases (said in the "
            "output).",
        ),
    ] = False,
    headers: Annotated[
        Path | None,
        typer.Option(
            "--headers",
            help="A file of extra request headers (Name: value a line) sent with every request.",
            exists=True,
            dir_okay=False,
        ),
    ] = None,
    config_file: ConfigFile = None,
) -> None:
    """Apply migrations in version order, each recorded in the metadata stream."""
    defines = _parse_defines(define or [])
    try:
        target = Target(all=all_, next=next_, until=until, version=version)
    except MigrationError as exc:
        # A usage error (exit 2), said before any server is asked anything.
        raise typer.BadParameter(str(exc), param_hint="the migrations to apply") from None
    with _session(config_file, headers) as (config, client):
        if dry_run:
            console.print("Dry run: no statement will be sent to the server.")
        verbs.apply(
            config,
            client,
            target,
            dry_run=dry_run,
            defines=defines,
            takeover=takeover,
            echo=lambda message: console.print(escape(message)),
            rule_tests=not skip_rule_tests,
        )


@migrate_app.command("defines")
def defines_command(
    define: Annotated[
        list[str] | None,
        typer.Option("--define", "-d", help="name=value replacing a default; repeatable."),
    ] = None,
    config_file: ConfigFile = None,
) -> None:
    """Print the variables a migration starts with as ksql-migrations' --define flags.

    The defaults of ksql-defines.properties with each --define over them, so that
    `ksql-migrations apply --all $(streamguard migrate defines)` runs the rules with the
    values `streamguard migrate apply --all` would use.
    """
    overrides = _parse_defines(define or [])
    with _reported():
        config = resolve_config(_config_file(config_file), settings=command_settings())
        values = effective_defines(config.migrations_dir, overrides)
    if not values:
        # Said apart from the flags, which a script reads: an empty line alone said nothing.
        err_console.print(
            f"no variables: {escape(str(defines_file(config.migrations_dir)))} is not there "
            "and no --define was given"
        )
    console.print(" ".join(shlex.quote(flag) for flag in as_flags(values)), soft_wrap=True)


@migrate_app.command("info")
def info_command(config_file: ConfigFile = None) -> None:
    """Show the current version and every migration file's state."""
    with _session(config_file) as (config, client):
        report = verbs.info(config, client)
        console.print(f"Current migration version: {report.current_version}")
        table = Table()
        for column in ("Version", "Name", "State", "Started on", "Completed on", "Error reason"):
            table.add_column(column)
        for row in report.versions:
            table.add_row(
                str(row.version),
                row.name,
                str(row.state),
                _time(row.started_on),
                _time(row.completed_on),
                row.error_reason,
            )
        console.print(table)


@migrate_app.command("validate")
def validate_command(config_file: ConfigFile = None) -> None:
    """Check that every applied file still has the checksum recorded when it was applied."""
    with _session(config_file) as (config, client):
        checked = verbs.validate(config, client)
        console.print(f"Validated the checksums of {len(checked)} applied migration(s).")


@migrate_app.command("destroy-metadata")
def destroy_metadata_command(
    config_file: ConfigFile = None,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
) -> None:
    """Drop the metadata stream and table and their topics. Not reversible."""
    if not yes:
        typer.confirm("Drop the migrations metadata stream, table and topics?", abort=True)
    with _session(config_file) as (config, client):
        verbs.destroy_metadata(config, client)
        console.print("Migrations metadata destroyed.")


def _parse_defines(pairs: list[str]) -> dict[str, str]:
    defines: dict[str, str] = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name.strip():
            raise typer.BadParameter(f"{pair!r} is not name=value", param_hint="--define")
        defines[name.strip()] = value
    return defines


def _time(epoch_ms: str) -> str:
    if not epoch_ms.isdigit():
        return epoch_ms or "N/A"
    return time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(int(epoch_ms) / 1000))
