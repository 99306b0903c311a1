"""The QTT ratchet: per-file pass counts that may only go up."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

from ksql_emulator.qtt.harness import FileResult

__all__ = ["load_ratchet", "ratchet_failures", "update_ratchet"]


def load_ratchet(path: Path) -> dict[str, int]:
    if not path.exists():
        return {}
    data = json.loads(path.read_text())
    return {str(k): int(v) for k, v in data.items()}


def ratchet_failures(path: Path, files: Sequence[FileResult]) -> list[str]:
    """Files whose pass count fell below the ratchet, or that it does not know, as messages."""
    ratchet = load_ratchet(path)
    passed = {fr.file: fr.count("passed") for fr in files}
    fallen = [
        f"{name}: {passed.get(name, 0)} passed, ratchet says {floor}"
        for name, floor in sorted(ratchet.items())
        if passed.get(name, 0) < floor
    ]
    # Every file is held, even at 0: a file that starts passing must be recorded to stay so.
    unknown = [
        f"{name}: not in the ratchet (run the harness with --update-ratchet {path})"
        for name in sorted(passed)
        if name not in ratchet
    ]
    return fallen + unknown


def update_ratchet(path: Path, files: Sequence[FileResult]) -> dict[str, tuple[int, int]]:
    """Raise figures to today's pass counts; never lower one. Returns what was raised."""
    ratchet = load_ratchet(path)
    raised: dict[str, tuple[int, int]] = {}
    for fr in files:
        now = fr.count("passed")
        old = ratchet.get(fr.file)
        if old is None or now > old:
            ratchet[fr.file] = now
            raised[fr.file] = (old or 0, now)
    path.write_text(json.dumps(dict(sorted(ratchet.items())), indent=1) + "\n")
    return raised
