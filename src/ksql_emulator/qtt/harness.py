"""Runs the QTT files asked for, each test isolated, and gathers results per file."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from ksql_emulator.functions import FunctionRegistry
from ksql_emulator.qtt.loader import Variant, load_file, select_files
from ksql_emulator.qtt.runner import run_variant

__all__ = ["FileResult", "TestResult", "default_root", "run_files"]


@dataclass(frozen=True)
class TestResult:
    file: str
    name: str
    variant: str
    status: str
    reason: str

    def as_json(self) -> dict[str, str]:
        return {
            "file": self.file,
            "name": self.name,
            "variant": self.variant,
            "status": self.status,
            "reason": self.reason,
        }


@dataclass
class FileResult:
    file: str
    results: list[TestResult] = field(default_factory=list)

    def count(self, status: str) -> int:
        return sum(1 for r in self.results if r.status == status)


def default_root() -> Path:
    """`../shared/ksql-qtt` relative to the project root (the folder holding pyproject.toml)."""
    here = Path(__file__).resolve()
    for parent in [Path.cwd(), *here.parents]:
        if (parent / "pyproject.toml").exists():
            return (parent / ".." / "shared" / "ksql-qtt").resolve()
    return Path("../shared/ksql-qtt").resolve()


def run_files(
    roots: list[Path],
    tier: str = "all",
    names: list[str] | None = None,
    on_file: Callable[[FileResult], None] | None = None,
    time_limit_s: float = 10.0,
    run: Callable[[Variant], tuple[str, str]] | None = None,
    folder: str | None = None,
) -> list[FileResult]:
    """Each file's results; `run` (default: in process, without Kafka) runs one variant, and
    `folder` narrows the files to one QTT folder (e.g. rest-query-validation-tests)."""
    # ksqlDB runs its QTT cases with its test jar on the classpath, so its test UDFs resolve.
    from ksql_emulator.functions import qtt_registry

    registry: FunctionRegistry = qtt_registry()

    def in_process(v: Variant) -> tuple[str, str]:
        outcome = run_variant(v, registry, time_limit_s)
        return outcome.status, outcome.reason

    run_one = run or in_process
    out: list[FileResult] = []
    for root in roots:
        for path in select_files(root, tier, names):
            if folder is not None and path.parent.name != folder:
                continue
            fr = FileResult(f"{path.parent.name}/{path.name}")
            try:
                variants = load_file(path)
            except Exception as err:  # a malformed file fails as one entry, the run goes on
                fr.results.append(TestResult(fr.file, "<file>", "", "failed", f"unreadable: {err}"))
                variants = []
            for v in variants:
                if v.skip_reason:
                    status, reason = "skipped", v.skip_reason
                else:
                    status, reason = run_one(v)
                fr.results.append(TestResult(fr.file, v.name, v.variant, status, reason))
            out.append(fr)
            if on_file is not None:
                on_file(fr)
    return out
