"""`python -m ksql_emulator.test_runner`: ksql-test-runner's files and verdicts."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ksql_emulator.test_runner import main

STATEMENTS = """
CREATE STREAM payments (account VARCHAR KEY, amount DOUBLE)
  WITH (KAFKA_TOPIC='payments', VALUE_FORMAT='JSON');
DEFINE limit = '100';
CREATE STREAM big WITH (KAFKA_TOPIC='big') AS
  SELECT account, amount FROM payments WHERE amount > ${limit};
"""


@pytest.fixture
def files(tmp_path: Path) -> Path:
    (tmp_path / "statements.sql").write_text(STATEMENTS)
    inputs = [
        {"topic": "payments", "key": "a", "value": {"AMOUNT": 50.0}, "timestamp": 1},
        {"topic": "payments", "key": "b", "value": {"AMOUNT": 150.0}, "timestamp": 2},
    ]
    (tmp_path / "input.json").write_text(json.dumps({"inputs": inputs}))
    return tmp_path


def _args(folder: Path, *more: str) -> list[str]:
    return ["-s", str(folder / "statements.sql"), "-i", str(folder / "input.json"), *more]


def test_matching_outputs_pass(files: Path, capsys: pytest.CaptureFixture[str]) -> None:
    expected = [{"topic": "big", "key": "b", "value": {"AMOUNT": 150.0}, "timestamp": 2}]
    (files / "output.json").write_text(json.dumps({"outputs": expected}))
    assert main(_args(files, "-o", str(files / "output.json"))) == 0
    assert "Test passed!" in capsys.readouterr().out


def test_different_outputs_fail_naming_the_record(
    files: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    expected = [{"topic": "big", "key": "a", "value": {"AMOUNT": 50.0}, "timestamp": 1}]
    (files / "output.json").write_text(json.dumps({"outputs": expected}))
    assert main(_args(files, "-o", str(files / "output.json"))) == 1
    out = capsys.readouterr().out
    assert out.startswith("Test failed:") and "big #0" in out


def test_actual_file_holds_every_record_the_queries_wrote(files: Path) -> None:
    assert main(_args(files, "--actual-file", str(files / "actual.json"))) == 0
    written = json.loads((files / "actual.json").read_text())["outputs"]
    assert written == [{"topic": "big", "key": "b", "value": {"AMOUNT": 150.0}, "timestamp": 2}]


def test_actual_topic_keeps_only_that_topics_records(files: Path) -> None:
    (files / "statements.sql").write_text(
        STATEMENTS + "CREATE STREAM small WITH (KAFKA_TOPIC='small') AS "
        "SELECT account, amount FROM payments WHERE amount <= ${limit};"
    )
    args = _args(files, "--actual-file", str(files / "a.json"), "--actual-topic", "small")
    assert main(args) == 0
    written = json.loads((files / "a.json").read_text())["outputs"]
    assert written == [{"topic": "small", "key": "a", "value": {"AMOUNT": 50.0}, "timestamp": 1}]


def test_fields_in_another_case_than_the_schemas_are_read(files: Path) -> None:
    # Producers write lower-case field names; ksqlDB matches them case-insensitively, the
    # exact name first. Records of several spellings in one topic are each read right.
    (files / "statements.sql").write_text(
        "CREATE STREAM payments (account VARCHAR KEY, amount DOUBLE, note VARCHAR) "
        "WITH (KAFKA_TOPIC='payments', VALUE_FORMAT='JSON');"
        "CREATE STREAM big WITH (KAFKA_TOPIC='big') AS "
        "SELECT account, amount FROM payments WHERE amount > 100;"
    )
    inputs = [
        {"topic": "payments", "key": "a", "value": {"amount": 150.5}, "timestamp": 1},
        {"topic": "payments", "key": "b", "value": {"Amount": 160.5}, "timestamp": 2},
        {"topic": "payments", "key": "c", "value": {"amount": 1, "AMOUNT": 170.5}, "timestamp": 3},
        {"topic": "payments", "key": "d", "value": {"other": 500.0}, "timestamp": 4},
        {"topic": "payments", "key": "e", "value": {"amount": 180.5}, "timestamp": 5},
    ]
    (files / "input.json").write_text(json.dumps({"inputs": inputs}))
    assert main(_args(files, "--actual-file", str(files / "a.json"))) == 0
    written = json.loads((files / "a.json").read_text())["outputs"]
    assert [(r["key"], r["value"]["AMOUNT"]) for r in written] == [
        ("a", 150.5), ("b", 160.5), ("c", 170.5), ("e", 180.5)
    ]  # fmt: skip


def test_a_refused_statement_fails(files: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (files / "statements.sql").write_text(STATEMENTS + "CREATE STREAM x AS SELECT nope FROM big;")
    assert main(_args(files)) == 1
    assert "NOPE" in capsys.readouterr().out.upper()


def test_an_unreadable_input_file_is_a_usage_error(tmp_path: Path) -> None:
    (tmp_path / "statements.sql").write_text(STATEMENTS)
    (tmp_path / "input.json").write_text("{not json")
    with pytest.raises(SystemExit) as exit_:
        main(_args(tmp_path))
    assert exit_.value.code == 2
