"""What every `streamguard` subcommand shares: the settings it runs with and common options.

The global `--state-dir` (given before the subcommand) is kept here for the run of the command,
not written to the environment: `command_settings` hands it, with a command's own options, to
the settings explicitly, and child processes see only what they are given.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import typer

from streamguard.settings import Settings, get_settings

__all__ = [
    "POSTGRES_HINT",
    "DatabaseUrl",
    "GlobalOptions",
    "check_output_file",
    "command_settings",
    "global_options",
    "global_options_set",
    "use_global_options",
]

# What to do when PostgreSQL does not answer a command.
POSTGRES_HINT = (
    "Start the stack (./start.sh, or streamguard stack up), or name another server with "
    "--database-url or DATABASE_URL"
)

DatabaseUrl = Annotated[
    str | None,
    typer.Option(help="SQLAlchemy URL \\[default: DATABASE_URL, or the local stack's PostgreSQL]."),
]


@dataclass(frozen=True)
class GlobalOptions:
    """The options given before the subcommand."""

    state_dir: Path | None = None


_current: ContextVar[GlobalOptions] = ContextVar("streamguard_global_options")


def use_global_options(options: GlobalOptions) -> None:
    """Records the global options for the subcommand about to run (the CLI's callback)."""
    _current.set(options)


def global_options() -> GlobalOptions:
    """The global options of the running command; none given outside the command line."""
    return _current.get(GlobalOptions())


@contextmanager
def global_options_set(options: GlobalOptions) -> Iterator[None]:
    """`options` as the global options within the block (tests, embedding)."""
    token = _current.set(options)
    try:
        yield
    finally:
        _current.reset(token)


def command_settings(**overrides: Any) -> Settings:
    """Settings from the environment, then the global options, then `overrides` (a command's
    own options; None means not given)."""
    given = {k: v for k, v in overrides.items() if v is not None}
    state_dir = global_options().state_dir
    if state_dir is not None:
        given.setdefault("state_dir", state_dir)
    return get_settings(**given)


def check_output_file(path: Path | None, option: str) -> None:
    """Refuses, before the command does its work, a file it could not write: a report written
    at the end of a long run would otherwise fail only then, with a traceback."""
    if path is None:
        return
    folder = path.parent
    if path.is_dir():
        problem = "is a folder"
    elif not folder.is_dir():
        problem = f"cannot be written: there is no folder {folder}"
    elif not os.access(folder, os.W_OK) or (path.exists() and not os.access(path, os.W_OK)):
        problem = "cannot be written (permission denied)"
    else:
        return
    raise typer.BadParameter(f"{path} {problem}", param_hint=option)
