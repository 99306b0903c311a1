"""`streamguard rules test`: the rules' cases, in seconds, with a diff for each failure."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape

from streamguard import terminal
from streamguard.cli_options import check_output_file
from streamguard.migrations.defines import default_defines, value_problem
from streamguard.migrations.errors import MigrationError
from streamguard.migrations.files import all_migrations
from streamguard.migrations.sql import parse_migration
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

# Run from the project (where ksql/ is), or name the folder.
KsqlDir = Annotated[
    Path,
    typer.Option(
        "--ksql",
        help="Folder of the migration files the rules live in.",
        exists=True,
        file_okay=False,
    ),
]


@rules_app.command("test")
def test_command(
    rules: Annotated[
        list[str] | None,
        typer.Argument(
            help="Rules to test, by id or case file name (velocity, rule_velocity); default: all."
        ),
    ] = None,
    cases_dir: Annotated[
        Path, typer.Option("--cases", help="Folder of the case files, one <rule>.toml a rule.")
    ] = DEFAULT_CASES,
    ksql_dir: KsqlDir = Path("ksql"),
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
        results = run(selected, ksql_dir, _checked(_defines(define or []), ksql_dir))
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
    ksql_dir: KsqlDir = Path("ksql"),
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


def _checked(values: dict[str, str], ksql_dir: Path) -> dict[str, str]:
    """`--define` values that the migration files of `ksql_dir` use, each of its default's kind:
    a name nobody uses would change nothing, and `abc` for a threshold would fail every case
    as an unknown column rather than say what was wrong."""
    if not values:
        return values
    used = {
        name
        for migration in all_migrations(ksql_dir)
        for statement in parse_migration(migration.read_text())
        for name in statement.variables()
    }
    defaults = default_defines(ksql_dir)
    for name, value in values.items():
        if name not in used:
            raise typer.BadParameter(
                f"no migration file of {ksql_dir} uses the variable {name!r}; the variables "
                f"are: {', '.join(sorted(used)) or 'none'}",
                param_hint="--define",
            )
        problem = value_problem(name, value, defaults.get(name))
        if problem is not None:
            raise typer.BadParameter(problem, param_hint="--define")
    return values


def _pairs(values: dict[str, str]) -> str:
    return ", ".join(f"{k}={v}" for k, v in values.items())


def _select(cases_dir: Path, names: list[str]) -> list[RuleCases]:
    if not cases_dir.is_dir():
        raise CaseFileError(f"no case folder {cases_dir} (give one with --cases)")
    files = sorted(cases_dir.glob("*.toml"))
    if names:
        known = {path.stem: path for path in files}
        # A rule by its id too (velocity), as backtest and change take it.
        names = [f"rule_{n}" if n not in known and f"rule_{n}" in known else n for n in names]
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


@rules_app.command("backtest")
def backtest_command(
    rules: Annotated[
        list[str] | None,
        typer.Argument(help="Rules to run, by rule_id (velocity) or file name; default: all."),
    ] = None,
    ground_truth: Annotated[
        Path | None,
        typer.Option(help="The producer's ground-truth file (produce --ground-truth), JSON Lines."),
    ] = None,
    replay: Annotated[
        Path | None,
        typer.Option(
            help="A replay file (.jsonl or .csv, as produce --replay reads) with a scenario column."
        ),
    ] = None,
    count: Annotated[
        int, typer.Option(help="Without a file: generate this many transactions.")
    ] = 100_000,
    seed: Annotated[int, typer.Option(help="Seed of the generated population and traffic.")] = 42,
    fraud_share: Annotated[
        float, typer.Option(help="Share of generated transactions that are fraud (0-1).")
    ] = 0.05,
    rate: Annotated[
        float | None,
        typer.Option(
            help="Simulated transactions a second of generated traffic.",
            show_default="the count spread over one day",
        ),
    ] = None,
    blacklist_file: Annotated[
        Path | None,
        typer.Option(
            "--blacklist",
            help="Blacklist CSV (kind,value) whose hits the report counts; generated traffic "
            "uses its population's.",
        ),
    ] = None,
    define: Annotated[
        list[str] | None,
        typer.Option(help="NAME=VALUE: a rule variable's value for the whole run (repeatable)."),
    ] = None,
    compare: Annotated[
        str | None,
        typer.Option(
            help="NAME=V1,V2,...: run the same traffic under each value, side by side with the "
            "change in caught frauds and false alerts."
        ),
    ] = None,
    json_file: Annotated[Path | None, typer.Option("--json", help="Write the numbers as JSON.")] = (
        None
    ),
    html_file: Annotated[
        Path | None, typer.Option("--html", help="Write an HTML report with a chart.")
    ] = None,
    alerts_file: Annotated[
        Path | None,
        typer.Option(
            "--alerts",
            help="Write each alert of the base setting, true or false and what it was about "
            "(JSON Lines).",
        ),
    ] = None,
    ksql_dir: KsqlDir = Path("ksql"),
    workers: Annotated[
        int | None,
        typer.Option(help="Rule runs at a time.", show_default="one per CPU"),
    ] = None,
) -> None:
    """Run the rules over labelled traffic and score their alerts against the truth.

    The traffic is a ground-truth file, a replay file with a scenario column, or transactions
    generated on the spot (--count, --seed, --fraud-share). The rules run on the ksqlDB
    emulator's engine in memory, as `rules test` runs them. For each rule: alerts, true and
    false positives, precision, recall on the scenario it is meant for and on any fraud, alerts
    per 10,000 transactions, blacklist hits; overall, the frauds that no rule caught.

    What if: --define velocity_min_count=8 runs every rule with that value; --compare
    velocity_min_count=4,5,6,8 runs the rules that use it once per value over the same
    traffic. Exit status 2 on bad options or traffic, 1 when a rule's statements fail.
    """
    from streamguard.rules import backtest as bt
    from streamguard.rules import report
    from streamguard.rules import traffic as tr

    started = time.monotonic()
    for option, path in (("--json", json_file), ("--html", html_file), ("--alerts", alerts_file)):
        check_output_file(path, option)
    try:
        if ground_truth and replay:
            raise bt.BacktestError("give --ground-truth or --replay, not both")
        if count <= 0:
            raise bt.BacktestError(f"--count must be above 0, not {count}")
        if not 0 <= fraud_share <= 1:
            raise bt.BacktestError(f"--fraud-share must be between 0 and 1, not {fraud_share}")
        if rate is not None and rate <= 0:
            raise bt.BacktestError(f"--rate must be above 0, not {rate}")
        if workers is not None and workers <= 0:
            raise bt.BacktestError(f"--workers must be above 0, not {workers}")
        ruleset = bt.load_rules(ksql_dir, rules or [])
        base = bt.Setting()
        for text in define or []:
            base = base.with_value(*bt.parse_define(text, ruleset))
        compared = bt.parse_compare(compare, ruleset) if compare else None
        with err_console.status("Reading the traffic..."):
            if ground_truth:
                traffic = tr.from_ground_truth(ground_truth)
            elif replay:
                traffic = tr.from_replay(replay)
            else:
                traffic = tr.generated(count, seed=seed, fraud_share=fraud_share, rate=rate)
            if blacklist_file:
                traffic.blacklist = tr.read_blacklist(blacklist_file)
    except (bt.BacktestError, tr.TrafficError, MigrationError) as exc:
        err_console.print(f"[red]error:[/red] {escape(str(exc))}")
        raise typer.Exit(2) from None
    others = [base.with_value(compared[0], v) for v in compared[1]] if compared else []
    err_console.print(f"{traffic.source}; running {len(ruleset.rules)} rule(s)...")
    try:
        with err_console.status("Running the rules...") as status:
            runs = bt.run_settings(
                ruleset,
                traffic,
                base,
                others,
                workers=workers,
                progress=lambda line: status.update(f"Running the rules... done: {line}"),
            )
    except bt.BacktestError as exc:
        err_console.print(f"[red]error:[/red] {escape(str(exc))}")
        raise typer.Exit(1) from None
    index = bt.Index(traffic)
    scores = [bt.score(ruleset, index, run) for run in runs]
    report.print_score(console, scores[0], f"backtest ({scores[0].setting.label})")
    compared_rules: list[str] = []
    if compared:
        compared_rules = [r.rule_id for r in ruleset.touched_by({compared[0]})]
        base_value = (ruleset.defaults | dict(base.values)).get(compared[0])
        report.print_compare(console, scores, compared[0], compared_rules, base_value)
    seconds = time.monotonic() - started
    doc = report.document(
        traffic.source, scores, (compared[0], compared_rules) if compared else None, seconds
    )
    if json_file:
        report.write_json(json_file, doc)
        err_console.print(f"wrote {json_file}")
    if html_file:
        report.write_html(html_file, doc, scores)
        err_console.print(f"wrote {html_file}")
    if alerts_file:
        rows = bt.alert_rows(ruleset, index, runs[0])
        alerts_file.write_text("".join(json.dumps(row) + "\n" for row in rows))
        err_console.print(f"wrote {alerts_file} ({len(rows):,} alerts)")
    err_console.print(f"backtest done in {seconds:.1f} s")
