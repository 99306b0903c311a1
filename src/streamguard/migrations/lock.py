"""One runner per project: a local file lock, and a claim on the metadata's RUNNING row.

ksql-migrations has no lock: two runners can apply one version twice. StreamGuard adds two.

1. Same machine: an exclusive, non-blocking `flock` on `.ksql-migrations.lock` in the project
   folder, held for the whole run; the second runner fails at once, naming the holder's pid.
2. Across machines: the metadata itself. A runner refuses to start while the CURRENT row is
   RUNNING (another runner is mid-migration). Two runners that both passed that check race to
   write RUNNING for the same version; each stamps its row with its own STARTED_ON, waits until
   the table shows a RUNNING row for that version, waits a further settle period, and reads
   again: only the runner whose STARTED_ON is still there goes on (the last writer wins, as in
   Fischer's mutual exclusion, given that a runner writes within the settle period of its
   check). The loser stops without writing anything else. A runner that died leaves RUNNING
   behind: `--takeover` lets the next run carry on after the operator has checked it is dead.
"""

from __future__ import annotations

import fcntl
import os
import socket
import time
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import IO

from streamguard.migrations.errors import MetadataError, RunnerBusy
from streamguard.migrations.metadata import Metadata, MigrationState

LOCK_FILE_NAME = ".ksql-migrations.lock"


class ProjectLock:
    """An exclusive lock on a project folder for one runner on this machine."""

    def __init__(self, project_dir: Path) -> None:
        self.path = project_dir / LOCK_FILE_NAME
        self._file: IO[str] | None = None

    def __enter__(self) -> ProjectLock:
        handle = self.path.open("a+", encoding="utf-8")
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "unknown"
            handle.close()
            raise RunnerBusy(
                f"another runner is applying migrations to this project ({holder}; lock file "
                f"{self.path}); wait for it to finish, then run again"
            ) from None
        handle.seek(0)
        handle.truncate()
        handle.write(
            f"pid {os.getpid()} on {socket.gethostname()} since "
            f"{time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime())}"
        )
        handle.flush()
        self._file = handle
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._file is not None:
            self._file.seek(0)
            self._file.truncate()
            fcntl.flock(self._file.fileno(), fcntl.LOCK_UN)
            self._file.close()
            self._file = None


def refuse_if_running(metadata: Metadata, *, takeover: bool) -> None:
    """Fail when the CURRENT row says a migration is RUNNING, unless taking over."""
    current = metadata.current_row()
    if current is None or current.state is not MigrationState.RUNNING or takeover:
        return
    raise RunnerBusy(
        f"version {current.version} ({current.name}) has been RUNNING since "
        f"{_when(current.started_on)}. ksql-migrations would apply it again now; this runner "
        "refuses, because the version may still be running elsewhere (another runner, perhaps "
        "on another machine, applying it now), and because a runner that died part-way may "
        "have run some of its statements already, which a second run would repeat (a CREATE "
        "then fails, an INSERT writes its rows twice). Wait for that runner to finish; if it "
        "died, check which of the version's statements took effect (SHOW STREAMS, SHOW "
        "QUERIES), then run again with --takeover to apply the version again as "
        "ksql-migrations would."
    )


def confirm_claim(
    metadata: Metadata,
    version: int,
    started_on: str,
    *,
    settle_s: float,
    timeout_s: float = 30.0,
    sleep: Callable[[float], None] = time.sleep,
) -> None:
    """Return once this runner's RUNNING row for `version` has stood for `settle_s`."""
    deadline = time.monotonic() + timeout_s
    while True:
        info = metadata.info_for_version(str(version))
        if info is not None and info.state is MigrationState.RUNNING:
            break
        if time.monotonic() > deadline:
            raise MetadataError(
                f"version {version} was recorded RUNNING but the metadata table "
                f"{metadata.table} has not shown it after {timeout_s:.0f}s"
            )
        sleep(0.05)
    if settle_s > 0:
        sleep(settle_s)
    info = metadata.info_for_version(str(version))
    if info is None or info.started_on != started_on:
        raise RunnerBusy(
            f"another runner started version {version} at the same moment "
            f"({_when(info.started_on) if info else 'unknown'}); this runner stops and leaves "
            "it to that one"
        )


def _when(epoch_ms: str) -> str:
    try:
        seconds = int(epoch_ms) / 1000
    except ValueError:
        return epoch_ms or "an unknown time"
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(seconds))
