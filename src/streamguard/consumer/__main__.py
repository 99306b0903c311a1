"""`python -m streamguard.consumer`: the consumer alone, as `streamguard consume` runs it."""

from __future__ import annotations

import typer

from streamguard.consumer.command import consume_command

if __name__ == "__main__":
    typer.run(consume_command)
