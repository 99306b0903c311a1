"""The harness on a folder of hand-written tests in QTT's shape."""

from __future__ import annotations

import json
from pathlib import Path

from ksql_emulator.qtt.__main__ import main
from ksql_emulator.qtt.harness import run_files
from ksql_emulator.qtt.ratchet import ratchet_failures, update_ratchet

CREATE = "CREATE STREAM S (K STRING KEY, A INT) WITH (kafka_topic='in', value_format='JSON');"


def write_suite(root: Path) -> None:
    tests = [
        {
            "name": "filter passes",
            "statements": [CREATE, "CREATE STREAM O AS SELECT K, A * 2 AS B FROM S WHERE A > 1;"],
            "inputs": [
                {"topic": "in", "key": "x", "value": {"A": 1}},
                {"topic": "in", "key": "y", "value": {"A": 2}, "timestamp": 5},
            ],
            "outputs": [{"topic": "O", "key": "y", "value": {"B": 4}, "timestamp": 5}],
        },
        {
            "name": "wrong expectation fails",
            "statements": [CREATE, "CREATE STREAM O AS SELECT K, A FROM S;"],
            "inputs": [{"topic": "in", "key": "x", "value": {"A": 1}}],
            "outputs": [{"topic": "O", "key": "x", "value": {"A": 2}}],
        },
        {
            "name": "expected error passes",
            "statements": [CREATE, "CREATE STREAM O AS SELECT K, NOPE FROM S;"],
            "expectedException": {
                "type": "io.confluent.ksql.util.KsqlException",
                "message": "SELECT column 'NOPE' cannot be resolved.",
            },
        },
        {"name": "avro only is skipped", "format": ["AVRO"], "statements": [CREATE]},
        {"name": "disabled is skipped", "enabled": False, "statements": [CREATE]},
        {"name": "engine trouble fails, run goes on", "statements": ["CREATE STREAM ((("]},
    ]
    folder = root / "query-validation-tests"
    folder.mkdir(parents=True)
    (folder / "mine.json").write_text(json.dumps({"tests": tests}))


def test_statuses_per_test(tmp_path: Path) -> None:
    write_suite(tmp_path)
    [fr] = run_files([tmp_path])
    status = {r.name: r.status for r in fr.results}
    assert status == {
        "filter passes": "passed",
        "wrong expectation fails": "failed",
        "expected error passes": "passed",
        "avro only is skipped": "skipped",
        "disabled is skipped": "skipped",
        "engine trouble fails, run goes on": "failed",
    }
    reasons = {r.name: r.reason for r in fr.results}
    assert "expected" in reasons["wrong expectation fails"]
    assert "AVRO" in reasons["avro only is skipped"]


def test_cli_prints_summary_and_writes_report(tmp_path: Path, capsys: object) -> None:
    write_suite(tmp_path / "qtt")
    report = tmp_path / "report.json"
    assert main([str(tmp_path / "qtt"), "--report", str(report)]) == 0
    out = capsys.readouterr().out  # type: ignore[attr-defined]
    assert out.splitlines()[-1] == "2 passed, 2 failed, 2 skipped"
    rows = json.loads(report.read_text())
    assert {tuple(sorted(r)) for r in rows} == {("file", "name", "reason", "status", "variant")}
    assert len(rows) == 6


def test_ratchet_only_goes_up(tmp_path: Path) -> None:
    write_suite(tmp_path / "qtt")
    files = run_files([tmp_path / "qtt"])
    ratchet = tmp_path / "ratchet.json"
    ratchet.write_text(json.dumps({"query-validation-tests/mine.json": 1, "other.json": 7}))
    raised = update_ratchet(ratchet, files)
    assert raised == {"query-validation-tests/mine.json": (1, 2)}
    assert json.loads(ratchet.read_text()) == {
        "other.json": 7,
        "query-validation-tests/mine.json": 2,
    }
    ratchet.write_text(json.dumps({"query-validation-tests/mine.json": 5}))
    update_ratchet(ratchet, files)
    assert json.loads(ratchet.read_text()) == {"query-validation-tests/mine.json": 5}


def test_ratchet_flags_a_fallen_file_and_one_it_does_not_hold(tmp_path: Path) -> None:
    write_suite(tmp_path / "qtt")
    files = run_files([tmp_path / "qtt"])
    ratchet = tmp_path / "ratchet.json"
    ratchet.write_text(json.dumps({"query-validation-tests/mine.json": 3}))
    assert ratchet_failures(ratchet, files) == [
        "query-validation-tests/mine.json: 2 passed, ratchet says 3"
    ]
    ratchet.write_text(json.dumps({}))
    [unknown] = ratchet_failures(ratchet, files)
    assert unknown.startswith("query-validation-tests/mine.json: not in the ratchet")
    update_ratchet(ratchet, files)
    assert ratchet_failures(ratchet, files) == []
