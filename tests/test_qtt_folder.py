"""A missing QTT folder skips the QTT tests on a developer's machine and fails them in CI."""

from __future__ import annotations

from pathlib import Path

import pytest

from ksql_emulator.qtt import harness
from tests.conftest import find_qtt_root


@pytest.fixture
def no_qtt(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    missing = tmp_path / "ksql-qtt"
    monkeypatch.setattr(harness, "default_root", lambda: missing)
    return missing


def test_in_ci_a_missing_qtt_folder_fails(no_qtt: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="CI must run the QTT tests"):
        find_qtt_root()


def test_elsewhere_a_missing_qtt_folder_skips(
    no_qtt: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match="is not there"):
        find_qtt_root()


def test_a_present_folder_is_found(no_qtt: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CI", "true")
    no_qtt.mkdir()
    assert find_qtt_root() == no_qtt
