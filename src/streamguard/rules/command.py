"""`streamguard rules test`: the rules' cases, in seconds, with a diff for each failure."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape

from streamguard import terminal
from streamguard.migrations.errors import MigrationError
from streamguard.rules import change
from streamguard.rules.cases import CaseFileError, RuleCases, load
from streamguard.rules.diff import alert_diff
from streamguard.rules.runner import CaseResult, run
from streamguard.times import parse_time

rules_app = typer.Typer(
    help="Test the fraud rules of ksql/ on example transactions before they ship.",
    no_args_is_help=True,
)
console = Console(highlight=False)
err_console = terminal.stderr

DEFAULT_CASES = Path("tests/rules/cases")


@rules_app.command("test")
def test_command(
    rules: Annotated[
        list[str] | None,
        typer.Argument(help="Rules to test, by case file name (rule_velocity); default: all."),
    ] = None,
    cases_dir: Annotated[
        Path, typer.Option("--cases", help="Folder of the case files, one <rule>.toml a rule.")
    ] = DEFAULT_CASES,
    ksql_dir: Annotated[
        Path, typer.Option("--ksql", help="Folder of the migration files the rules live in.")
    ] = Path("ksql"),
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="List passing cases too.")] = (
        False
    ),
    define: Annotated[
        list[str] | None,
        typer.Option(
            "--define",
            "-d",
            help="name=value replacing a rule's value (from ksql-defines.properties and its "
            "latest change) for this run; repeatable.",
        ),
    ] = None,
) -> None:
    """Run each rule file on its cases' transactions and compare the alerts it writes.

    A case file <cases>/<rule>.toml holds cases for ksql/V<version>__<rule>.sql: transactions
    (only the fields that matter; the rest are a plain card payment) and the alerts expected,
    in order, on the fields that matter. The rule runs with the files before it that are not
    rules, on the ksqlDB emulator's engine in memory (ksql-test-runner's way, without Java or
    Kafka). Exit status 1 when a case fails, 2 when a case file or rule cannot be read.
    """
    started = time.monotonic()
    try:
        selected = _select(cases_dir, rules or [])
        results = run(selected, ksql_dir, _defines(define or []))
    except (CaseFileError, MigrationError) as exc:
        err_console.print(f"[red]error:[/red] {escape(str(exc))}")
        raise typer.Exit(2) from None
    _report(results, verbose)
    failed = sum(1 for r in results if not r.passed)
    summary = (
        f"{len(results) - failed} case(s) passed, {failed} failed, of {len(selected)} rule(s) "
        f"in {time.monotonic() - started:.1f} s"
    )
    console.print(f"[red]{summary}[/red]" if failed else f"[green]{summary}[/green]")
    if failed:
        raise typer.Exit(1)


@rules_app.command("change")
def change_command(
    rule: Annotated[str, typer.Argument(help="The rule, e.g. high_amount or rule_velocity.")],
    define: Annotated[
        list[str],
        typer.Option("--define", "-d", help="name=value: a new value of the rule's; repeatable."),
    ],
    at: Annotated[
        str | None,
        typer.Option(
            "--at",
            help="The cut-over, an ISO time (2026-12-02T19:05:00Z) on a window boundary of the "
            "rule; default: the first boundary --lead seconds from now.",
        ),
    ] = None,
    lead: Annotated[
        float, typer.Option("--lead", min=10, help="Seconds from now to the cut-over, at least.")
    ] = change.DEFAULT_LEAD_S,
    ksql_dir: Annotated[
        Path, typer.Option("--ksql", help="Folder of the migration files the rules live in.")
    ] = Path("ksql"),
) -> None:
    """Write the migration that changes a rule's values at a cut-over, on a running pipeline.

    Transactions (for a window rule: windows) before the cut-over are judged by the old values
    and the others by the new ones, each exactly once, whatever the engine replays: the file
    starts the rule bounded below the cut-over with the old values and bounded above it with
    the new ones, both from the start of their source, then terminates the query that ran the
    rule until now. Apply it with `streamguard migrate apply` before the cut-over it prints.
    """
    values = _defines(define)
    try:
        cutover_ms = None if at is None else int(parse_time(at).timestamp() * 1000)
        path, written = change.write_change(
            ksql_dir, rule, values, cutover_ms=cutover_ms, lead_s=lead
        )
    except (change.RuleChangeError, MigrationError, ValueError) as exc:
        err_console.print(f"[red]error:[/red] {escape(str(exc))}")
        raise typer.Exit(2) from None
    console.print(f"Wrote {escape(str(path))}")
    console.print(
        f"  {written.rule}: {_pairs(written.old)} until {written.cutover}, "
        f"then {_pairs(written.new)}"
    )
    console.print(
        f"Apply it before {written.cutover}: streamguard migrate apply --all "
        f"(queries {written.until_query} and {written.from_query}; "
        f"terminates {', '.join(written.terminated)})"
    )


def _defines(pairs: list[str]) -> dict[str, str]:
    values: dict[str, str] = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name.strip():
            raise typer.BadParameter(f"{pair!r} is not name=value", param_hint="--define")
        values[name.strip()] = value
    return values


def _pairs(values: dict[str, str]) -> str:
    return ", ".join(f"{k}={v}" for k, v in values.items())


def _select(cases_dir: Path, names: list[str]) -> list[RuleCases]:
    if not cases_dir.is_dir():
        raise CaseFileError(f"no case folder {cases_dir} (give one with --cases)")
    files = sorted(cases_dir.glob("*.toml"))
    if names:
        known = {path.stem: path for path in files}
        unknown = [name for name in names if name not in known]
        if unknown:
            raise CaseFileError(
                f"no case file for {', '.join(unknown)} in {cases_dir}; there are: "
                f"{', '.join(sorted(known)) or 'none'}"
            )
        files = [known[name] for name in names]
    if not files:
        raise CaseFileError(f"no case files (*.toml) in {cases_dir}")
    return [load(path) for path in files]


def _report(results: list[CaseResult], verbose: bool) -> None:
    rule = None
    for result in results:
        if result.passed and not verbose:
            continue
        if result.rule != rule:
            rule = result.rule
            console.print(f"[bold]{escape(rule)}[/bold]")
        if result.passed:
            console.print(f"  [green]PASS[/green] {escape(result.case)}")
            continue
        console.print(f"  [red]FAIL[/red] {escape(result.case)}")
        if result.error:
            console.print(f"      {escape(result.error)}")
            continue
        for problem in result.problems:
            console.print(f"      {escape(problem)}")
        for line in alert_diff(result):
            style = {"+": "green", "-": "red", "@": "cyan"}.get(line[:1], "")
            shown = f"[{style}]{escape(line)}[/{style}]" if style else escape(line)
            console.print(f"      {shown}")
