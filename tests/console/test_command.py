"""`streamguard console` started wrongly says so in one line, before it says where it serves."""

from __future__ import annotations

import socket

from tests.conftest import run_cli


def test_a_taken_port_is_one_line_and_no_address_is_announced() -> None:
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        done = run_cli("console", "--port", str(port), timeout=60)
    assert done.returncode == 1
    said = done.stderr.strip()
    assert said.startswith(f"error: cannot listen on 127.0.0.1:{port}: Address already in use")
    assert len(said.splitlines()) == 1, said
    assert "console on http" not in done.stderr


def test_a_rules_folder_that_is_not_there_is_refused_at_the_start() -> None:
    """The pages that read it answered 500 instead, once the console was up."""
    done = run_cli("console", "--rules-dir", "/nonexistent/ksql", "--port", "0", timeout=60)
    assert done.returncode == 2
    assert "'/nonexistent/ksql' does not exist" in " ".join(done.stderr.split())
