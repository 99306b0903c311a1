"""A command that needs PostgreSQL says in one line what went wrong with it, not a traceback."""

from __future__ import annotations

import pytest

from tests.conftest import run_cli

NOBODY = "postgresql+psycopg2://postgres@127.0.0.1:1/streamguard"  # nothing listens on port 1


@pytest.mark.parametrize(
    "args",
    [["alerts"], ["db", "current"], ["blacklist", "list"]],
    ids=" ".join,
)
def test_a_database_that_does_not_answer_is_one_line_with_what_to_do(args: list[str]) -> None:
    done = run_cli(*args, env={"DATABASE_URL": NOBODY, "STREAMGUARD_DATABASE_URL": NOBODY})
    assert done.returncode == 1
    said = done.stderr.strip()
    assert "Traceback" not in said and len(said.splitlines()) == 1, said
    assert 'cannot use PostgreSQL: connection to server at "127.0.0.1", port 1 failed' in said
    assert "streamguard stack up" in said


def test_a_database_url_that_is_not_one_is_named() -> None:
    done = run_cli("db", "upgrade", "--database-url", "notaurl")
    assert done.returncode == 1
    assert done.stderr.strip() == (
        "error: not a database URL: Could not parse SQLAlchemy URL from given URL string"
    )
