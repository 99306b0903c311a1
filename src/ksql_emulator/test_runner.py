"""ksql-test-runner without Java: `python -m ksql_emulator.test_runner -s S -i I -o O`.

ksqlDB ships `ksql-test-runner` to test a statements file against input records and the output
records expected of them. This takes the same three files and flags and prints the same
verdict, running the statements on the emulator's engine in memory: no Kafka, no server.

- `--sql-file/-s`: the statements, run in order (DEFINE, SET, CREATE, INSERT INTO ...).
- `--input-file/-i`: `{"inputs": [{"topic", "key", "value", "timestamp", ...}]}`.
- `--output-file/-o`: `{"outputs": [...]}` in the same shape, compared record by record per
  topic, in order. Optional here: without it, nothing is compared.
- `--actual-file` (ours): writes every record the queries wrote, in the outputs' shape, so that
  a tool can compare in its own way and show its own diff; `--actual-topic T` (repeatable)
  keeps only the records of those topics (a backtest needs the alerts, not every changelog).

Exit status: 0 when the outputs match, 1 when they do not or a statement fails, 2 on bad
arguments or unreadable files.
"""

from __future__ import annotations

import argparse
import json
import sys
from decimal import Decimal
from pathlib import Path
from typing import Any

from ksql_emulator.engine import Engine
from ksql_emulator.errors import KsqlError
from ksql_emulator.functions import default_registry
from ksql_emulator.qtt.records import compare_outputs, feed_inputs, written_records

__all__ = ["main", "run"]


class TestRunnerError(Exception):
    """A statement or an input record the engine refused."""


def run(sql: str, inputs: list[dict[str, Any]]) -> Engine:
    """The engine after running `sql` and feeding it `inputs`."""
    engine = Engine(registry=default_registry())
    try:
        engine.execute(sql)
        feed_inputs(engine, inputs)
    except KsqlError as err:
        raise TestRunnerError(str(err)) from None
    return engine


def _records(path: Path, field: str) -> list[dict[str, Any]]:
    try:
        data = json.loads(path.read_text())
    except OSError as exc:
        raise SystemExit(_usage_error(f"cannot read {path}: {exc.strerror}")) from None
    except json.JSONDecodeError as exc:
        raise SystemExit(_usage_error(f"{path}:{exc.lineno}:{exc.colno}: {exc.msg}")) from None
    records = data.get(field) if isinstance(data, dict) else None
    if not isinstance(records, list):
        raise SystemExit(_usage_error(f'{path}: expected {{"{field}": [...]}}'))
    return records


def _json_value(value: Any) -> Any:
    # Test values keep numbers as Decimal; JSON readers expect numbers, not strings.
    if isinstance(value, Decimal):
        return (
            int(value)
            if value == value.to_integral_value() and "." not in str(value)
            else float(value)
        )
    return str(value)


def _usage_error(message: str) -> int:
    print(f"ksql-test-runner: {message}", file=sys.stderr)
    return 2


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m ksql_emulator.test_runner",
        description="Test a ksqlDB statements file against input records and the output "
        "records expected of them, as ksql-test-runner does, on the emulator's engine.",
    )
    parser.add_argument("-s", "--sql-file", type=Path, required=True, help="statements file")
    parser.add_argument("-i", "--input-file", type=Path, required=True, help="input records")
    parser.add_argument("-o", "--output-file", type=Path, help="expected output records")
    parser.add_argument("--actual-file", type=Path, help="write the records the queries wrote")
    parser.add_argument(
        "--actual-topic",
        action="append",
        metavar="TOPIC",
        help="write only this topic's records to --actual-file (repeatable; default: all)",
    )
    args = parser.parse_args(argv)

    try:
        sql = args.sql_file.read_text()
    except OSError as exc:
        return _usage_error(f"cannot read {args.sql_file}: {exc.strerror}")
    inputs = _records(args.input_file, "inputs")
    expected = _records(args.output_file, "outputs") if args.output_file else None
    try:
        engine = run(sql, inputs)
    except TestRunnerError as err:
        print(f"Test failed: {err}")
        return 1
    if args.actual_file:
        args.actual_file.write_text(
            json.dumps(
                {"outputs": written_records(engine, args.actual_topic)},
                indent=1,
                default=_json_value,
            )
            + "\n"
        )
    if expected is None:
        print("Statements ran; no expected outputs to compare.")
        return 0
    problems = compare_outputs(engine, expected)
    if problems:
        print("Test failed: " + "\n".join(problems))
        return 1
    print("Test passed!")
    return 0


if __name__ == "__main__":
    sys.exit(main())
