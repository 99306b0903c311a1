"""Command line: `python -m ksql_emulator.qtt [DIR ...] [--tier 1|2|all] [--file NAME ...]`.

With `--rest` the REST files (rest-query-validation-tests) run through a real ksql_emulator
server over real Kafka instead (`--bootstrap-servers`, `--server-url`)."""

from __future__ import annotations

import argparse
import json
import logging
import signal
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from ksql_emulator.qtt.harness import FileResult, default_root, run_files
from ksql_emulator.qtt.loader import Variant
from ksql_emulator.qtt.ratchet import update_ratchet

__all__ = ["main"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m ksql_emulator.qtt",
        description="Run ksqlDB's query-validation tests against the emulator: in process, "
        "without Kafka, or (--rest) the REST tests through a real server over real Kafka.",
    )
    parser.add_argument(
        "dirs", nargs="*", type=Path, help="QTT folders (default ../shared/ksql-qtt)"
    )
    parser.add_argument("--tier", choices=["1", "2", "all"], default="all")
    parser.add_argument("--file", nargs="+", default=None, help="file names (stems) to run")
    parser.add_argument("--report", type=Path, help="write a JSON list of every test's result")
    parser.add_argument("--time-limit", type=float, default=10.0, help="seconds per test")
    parser.add_argument(
        "--update-ratchet", type=Path, help="raise this ratchet file's figures (never lowers)"
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="print failure reasons")
    parser.add_argument(
        "--rest",
        action="store_true",
        help="run the REST files through a real ksql_emulator server over real Kafka",
    )
    parser.add_argument(
        "--bootstrap-servers",
        metavar="HOST:PORT",
        help="Kafka for --rest (default: env KAFKA_BOOTSTRAP_SERVERS)",
    )
    parser.add_argument(
        "--server-url",
        metavar="URL",
        help="with --rest: a running ksql_emulator server on that Kafka (default: start one)",
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    roots = args.dirs or [default_root()]
    for root in roots:
        if not root.is_dir():
            parser.error(f"not a folder: {root}")

    def show(fr: FileResult) -> None:
        print(
            f"{fr.file:70} {fr.count('passed'):5} passed {fr.count('failed'):5} failed "
            f"{fr.count('skipped'):5} skipped"
        )
        if args.verbose:
            for r in fr.results:
                if r.status == "failed":
                    label = f"{r.name} [{r.variant}]" if r.variant else r.name
                    print(f"    FAIL {label}: {r.reason}")
        sys.stdout.flush()

    if args.rest:
        from ksql_emulator.qtt.rest_run import NoKafka, check_kafka, kafka_address

        try:
            bootstrap = kafka_address(args.bootstrap_servers)
            check_kafka(bootstrap)
        except NoKafka as err:
            print(f"{parser.prog}: error: {err}", file=sys.stderr)
            return 2
        # A plain `kill` stops the run as Ctrl-C does: the server it started stops too.
        signal.signal(signal.SIGTERM, _interrupt)
        try:
            with _rest_runner(bootstrap, args.server_url, args.time_limit) as run:
                files = run_files(
                    roots, args.tier, args.file, show, args.time_limit, run, REST_FOLDER
                )
        except KeyboardInterrupt:
            # The runner's exits already stopped the test's queries and the server it started.
            print("interrupted", file=sys.stderr)
            return 130
    else:
        files = run_files(roots, args.tier, args.file, show, args.time_limit)
    results = [r for fr in files for r in fr.results]
    if args.report:
        args.report.write_text(json.dumps([r.as_json() for r in results], indent=1) + "\n")
    if args.update_ratchet:
        raised = update_ratchet(args.update_ratchet, files)
        for name, (old, new) in sorted(raised.items()):
            print(f"ratchet {name}: {old} -> {new}")
    passed = sum(1 for r in results if r.status == "passed")
    failed = sum(1 for r in results if r.status == "failed")
    skipped = sum(1 for r in results if r.status == "skipped")
    print(f"{passed} passed, {failed} failed, {skipped} skipped")
    return 0


REST_FOLDER = "rest-query-validation-tests"


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


@contextmanager
def _rest_runner(
    bootstrap: str, server_url: str | None, time_limit_s: float
) -> Iterator[Callable[[Variant], tuple[str, str]]]:
    from ksql_emulator.functions import qtt_registry
    from ksql_emulator.qtt.rest_run import emulator_server
    from ksql_emulator.qtt.rest_server import driving

    if server_url:
        with driving(server_url, bootstrap, qtt_registry(), time_limit_s) as run:
            yield run
        return
    with (
        emulator_server(bootstrap) as url,
        driving(url, bootstrap, qtt_registry(), time_limit_s) as run,
    ):
        yield run


if __name__ == "__main__":
    sys.exit(main())
