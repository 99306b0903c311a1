"""Runs ksqlDB's query-validation tests (QTT) against the emulator, without Kafka."""

from __future__ import annotations

from ksql_emulator.qtt.harness import FileResult, TestResult, default_root, run_files

__all__ = ["FileResult", "TestResult", "default_root", "run_files"]
