"""Every `--help` page shows what its command's docstring and options say, whole and readable."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
import typer.rich_utils
from typer.main import get_command
from typer.testing import CliRunner

from streamguard.cli import app

_ANSI = re.compile(r"\x1b\[[0-9;]*m")


def _commands(command: Any, path: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], Any]]:
    yield path, command
    for name, sub in sorted(getattr(command, "commands", {}).items()):
        yield from _commands(sub, (*path, name))


COMMANDS = [pytest.param(p, c, id=" ".join(p) or "root") for p, c in _commands(get_command(app))]


def _help(path: tuple[str, ...], monkeypatch: pytest.MonkeyPatch, width: int) -> str:
    monkeypatch.setattr(typer.rich_utils, "MAX_WIDTH", width)
    result = CliRunner().invoke(app, [*path, "--help"])
    assert result.exit_code == 0, result.output
    return _ANSI.sub("", result.output)


def _meant(text: str) -> str:
    """A help text as its author wrote it to be read: a bracket escaped for Rich as a bracket."""
    return text.replace("\\[", "[")


def _flat(text: str) -> str:
    return " ".join(text.replace("│", " ").split())


@pytest.mark.parametrize(("path", "command"), COMMANDS)
def test_every_option_shows_its_whole_help(
    path: tuple[str, ...], command: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Rich reads [default: x] in a help text as a markup tag and drops it: the option then
    said "Consumer group ." with nothing about its default."""
    page = _flat(_help(path, monkeypatch, 1000))
    for param in command.params:
        if getattr(param, "help", None):
            assert _flat(_meant(param.help)) in page, (path, param.name)


@pytest.mark.parametrize(("path", "command"), COMMANDS)
def test_a_paragraph_of_a_command_is_broken_only_where_the_terminal_ends(
    path: tuple[str, ...], command: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """On a wide terminal each paragraph of the description stands on one line: the source's
    own line breaks once cut sentences short at 80 columns ("bad messages go to the" and the
    rest on the next line)."""
    page = _help(path, monkeypatch, 1000)
    lines = {" ".join(line.split()) for line in page.splitlines()}
    for paragraph in (command.help or "").split("\n\n"):
        flat = " ".join(_meant(paragraph).split())
        if flat:
            assert flat in lines, (path, flat)
