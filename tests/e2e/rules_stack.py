"""A local stack with the rules of ksql/ applied as shipped, for the end-to-end tests."""

from __future__ import annotations

import os
from pathlib import Path

from streamguard import stack
from streamguard.migrations.local_config import write_local_config
from streamguard.stack.processes import free_port
from tests.conftest import ROOT, project_migrations_turn, run_cli


def cli(state_dir: Path, *args: str) -> None:
    """A `streamguard` command on this stack, whatever servers the environment names for
    other tests."""
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in {"KAFKA_BOOTSTRAP_SERVERS", "DATABASE_URL", "KSQLDB_URL"}
        and not k.startswith("STREAMGUARD_")
    }
    done = run_cli("--state-dir", str(state_dir), *args, env=env)
    assert done.returncode == 0, done.stdout + done.stderr


def free_ports() -> dict[str, int]:
    """A free port for each server of a stack, as `stack.up` takes them."""
    return {"kafka_port": free_port(), "postgres_port": free_port(), "ksqldb_port": free_port()}


def up_with_rules(state_dir: Path, ports: dict[str, int], *apply_args: str) -> stack.StackState:
    """`stack up` on `ports`, the database schema, then every rule (`migrate apply --all`
    with `apply_args`)."""
    state = stack.up(state_dir, **ports)
    cli(state_dir, "db", "upgrade")
    # The project's ksql-migrations.properties names localhost:8088; this stack's ksqlDB is
    # elsewhere, so migrate runs with a copy that names it, as start.sh does.
    config = str(
        write_local_config(
            state_dir / "ksql-migrations.properties", state.part("ksqldb").url or "", ROOT
        )
    )
    cli(state_dir, "migrate", "-c", config, "initialize-metadata")
    with project_migrations_turn():
        cli(state_dir, "migrate", "-c", config, "apply", "--all", *apply_args)
    return state
