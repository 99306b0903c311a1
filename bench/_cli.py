"""The command line the side-by-side benchmarks share: how many, how often, which broker."""

from __future__ import annotations

import argparse


def bench_parser(
    doc: str, *, count: str, rounds: int | None = None, bootstrap: str | None = None
) -> argparse.ArgumentParser:
    """A parser described by `doc`'s first paragraph, with --count (`count` says of what),
    --rounds when the benchmark repeats its passes, and --bootstrap-servers."""
    parser = argparse.ArgumentParser(description=doc.split("\n\n")[0].replace("\n", " "))
    parser.add_argument(
        "--count", type=int, default=200_000, help=f"{count} (default: %(default)s)"
    )
    if rounds is not None:
        parser.add_argument(
            "--rounds",
            type=int,
            default=rounds,
            help="times each pass runs (default: %(default)s); the best and the median count",
        )
    parser.add_argument(
        "--bootstrap-servers",
        help=bootstrap or "a running broker (default: a throwaway local stack)",
    )
    return parser
