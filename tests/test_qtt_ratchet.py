"""The QTT ratchet: no file's pass count may fall below the figure in qtt_ratchet.json."""

from __future__ import annotations

from pathlib import Path

from ksql_emulator.qtt.harness import run_files
from ksql_emulator.qtt.ratchet import load_ratchet, ratchet_failures

RATCHET = Path(__file__).with_name("qtt_ratchet.json")


def test_qtt_pass_counts_never_fall(qtt_root: Path) -> None:
    files = run_files([qtt_root], tier="all")
    assert files, "the harness found no QTT files"
    assert load_ratchet(RATCHET), "the ratchet file is empty"
    failures = ratchet_failures(RATCHET, files)
    assert not failures, "QTT pass counts fell:\n" + "\n".join(failures)
