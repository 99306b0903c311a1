"""StreamGuard's own long-running commands (console, consumer, producer) as background parts of
the stack.

Each runs as `python -m streamguard.cli --state-dir DIR <command> ...`: the state dir on its
command line is what tells our process from any other when it is stopped by its recorded pid.
"""

from __future__ import annotations

import signal
import sys
from pathlib import Path

from streamguard.stack import processes
from streamguard.stack.errors import StackError
from streamguard.stack.state import PartState

# Stopped in this order: the console (a reader) and the producer first, so the consumer drains
# what the rules still emit.
APPS = ("console", "producer", "consumer")


def _marker(state_dir: Path, command: str) -> str:
    return f"--state-dir {state_dir.resolve()} {command}"


def _command(name: str) -> str:
    return {"producer": "produce", "consumer": "consume", "console": "console"}[name]


def log_path(state_dir: Path, name: str) -> Path:
    return state_dir.resolve() / "apps" / f"{name}.log"


def is_running(name: str, part: PartState, state_dir: Path) -> bool:
    return processes.is_ours(part.pid, _marker(state_dir, _command(name)))


def start(name: str, part: PartState, state_dir: Path, args: list[str]) -> PartState:
    """Start the app in the background unless it runs already; its output goes to its log."""
    if is_running(name, part, state_dir):
        return part
    command = _command(name)
    log = log_path(state_dir, name)
    argv = [sys.executable, "-m", "streamguard.cli", "--state-dir", str(state_dir.resolve()),
            command, *args]  # fmt: skip
    pid = processes.spawn(argv, log=log, env={"COLUMNS": "120", "TERM": "dumb"})
    part.pid = pid
    part.extra = {"log": str(log), "args": args}
    # A command that fails at once (bad option, unreachable server) is reported here.
    marker = _marker(state_dir, command)
    if processes.wait_until(lambda: not processes.still_starting(pid, marker), 2.0):
        raise StackError(f"streamguard {command} {processes.how_it_ended(pid)} at start", log=log)
    return part


def stop(name: str, part: PartState, state_dir: Path) -> bool:
    # SIGTERM: the consumer finishes its batch and commits; the producer flushes what it sent.
    stopped = processes.stop(
        part.pid, _marker(state_dir, _command(name)), timeout_s=60, sig=signal.SIGTERM
    )
    part.pid = None
    return stopped
