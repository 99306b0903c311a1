"""The global `--state-dir` reaches every subcommand explicitly, without the environment."""

from __future__ import annotations

import json
import os
from pathlib import Path

from typer.testing import CliRunner

from streamguard.cli import app
from streamguard.cli_options import GlobalOptions, command_settings, global_options_set

UNSET = {"DATABASE_URL": None, "STREAMGUARD_DATABASE_URL": None, "STREAMGUARD_STATE_DIR": None}


def test_a_command_sees_the_global_state_dir_and_its_own_options_win(tmp_path: Path) -> None:
    with global_options_set(GlobalOptions(tmp_path)):
        assert command_settings().state_dir == tmp_path
        assert command_settings(state_dir=tmp_path / "own").state_dir == tmp_path / "own"
    assert command_settings(state_dir=None).state_dir != tmp_path  # outside the command line


def test_db_and_blacklist_find_postgres_through_the_given_state_dir(
    tmp_path: Path, database_url: str
) -> None:
    (tmp_path / "stack.json").write_text(json.dumps({"postgres": {"url": database_url}}))
    runner = CliRunner()
    before = os.environ.get("STREAMGUARD_STATE_DIR")

    upgraded = runner.invoke(app, ["--state-dir", str(tmp_path), "db", "upgrade"], env=UNSET)
    assert upgraded.exit_code == 0, upgraded.output
    current = runner.invoke(app, ["--state-dir", str(tmp_path), "db", "current"], env=UNSET)
    assert current.exit_code == 0, current.output
    assert "up to date" in current.output
    added = runner.invoke(
        app,
        ["--state-dir", str(tmp_path), "blacklist", "add", "card", "C-1", "--reason", "stolen"],
        env=UNSET,
    )
    assert added.exit_code == 0, added.output
    listed = runner.invoke(app, ["--state-dir", str(tmp_path), "blacklist", "list"], env=UNSET)
    assert "C-1" in listed.output and "stolen" in listed.output
    # Nothing was left in the environment for other code (or child processes) to pick up.
    assert os.environ.get("STREAMGUARD_STATE_DIR") == before
