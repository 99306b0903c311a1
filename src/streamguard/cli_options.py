"""What every `streamguard` subcommand shares: the settings it runs with and common options.

The global `--state-dir` (given before the subcommand) is kept here for the run of the command,
not written to the environment: `command_settings` hands it, with a command's own options, to
the settings explicitly, and child processes see only what they are given.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import typer

from streamguard.settings import Settings, get_settings

__all__ = [
    "DatabaseUrl",
    "GlobalOptions",
    "command_settings",
    "global_options",
    "global_options_set",
    "use_global_options",
]

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
