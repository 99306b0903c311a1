"""`migrate apply`'s gate: a rule ships only with a case file whose cases pass.

A migration is a rule's when it inserts into fraud_alerts: the rule's own file
(`V000003__rule_high_amount.sql`, cases `rule_high_amount.toml`) or a change of it written by
`rules change` (cases of the rule it changes, run with the values it changes to).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path

from streamguard.migrations.errors import MigrationError
from streamguard.migrations.files import MigrationFile
from streamguard.rules.cases import CaseFileError, load
from streamguard.rules.change import read_change
from streamguard.rules.runner import is_rule, run

CASES_DIR = Path("tests") / "rules" / "cases"


class RuleTestsFailed(MigrationError):
    """A rule in the apply has no case file, or cases that fail."""


def cases_dir(migrations_dir: Path) -> Path:
    """The project's case folder: tests/rules/cases beside the migrations folder."""
    return migrations_dir.resolve().parent / CASES_DIR


def case_name(migration: MigrationFile) -> str | None:
    """The case file (without .toml) a migration must pass, or None for a non-rule file."""
    text = migration.read_text()
    change = read_change(text)
    if change is not None:
        return f"rule_{change.rule}"
    if not is_rule(migration):
        return None
    return migration.path.stem.split("__", 1)[1]


def check_rules(
    migrations: list[MigrationFile],
    migrations_dir: Path,
    defines: Mapping[str, str],
    echo: Callable[[str], None],
) -> None:
    """Runs the cases of every rule among `migrations`; raises naming what is missing or fails."""
    wanted = {name: m for m in migrations if (name := case_name(m)) is not None}
    if not wanted:
        return
    folder = cases_dir(migrations_dir)
    missing = [
        f"{m.path.name} (expected {folder / f'{n}.toml'})"
        for n, m in wanted.items()
        if not (folder / f"{n}.toml").is_file()
    ]
    if missing:
        raise RuleTestsFailed(
            "no case file for " + "; ".join(missing) + ". Write the rule's cases (see "
            "`streamguard rules test --help`) or pass --skip-rule-tests"
        )
    try:
        selected = [load(folder / f"{name}.toml") for name in wanted]
    except CaseFileError as exc:
        raise RuleTestsFailed(f"{exc}; fix it or pass --skip-rule-tests") from None
    echo(f"Testing {len(selected)} rule(s) on their cases before applying: {', '.join(wanted)}")
    results = run(selected, migrations_dir, defines)
    failed = [r for r in results if not r.passed]
    if failed:
        lines = [f"  {r.rule}: {r.case}: {r.error or '; '.join(r.problems)}" for r in failed]
        given = ", ".join(f"{k}={v}" for k, v in defines.items())
        ran = f" with {given} from --define" if given else ""
        raise RuleTestsFailed(
            f"{len(failed)} rule case(s) fail{ran}, so nothing was applied:\n"
            + "\n".join(lines)
            + "\nSee `streamguard rules test` for the diff; fix the rule or its cases, or pass "
            "--skip-rule-tests"
        )
    echo(f"Rule cases: {len(results)} passed.")
