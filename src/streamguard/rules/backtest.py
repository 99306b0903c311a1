"""`streamguard rules backtest`: the rules of ksql/ run over labelled traffic, scored against it.

The rules run as `rules test` runs them: on `python -m ksql_emulator.test_runner` (the emulator's
engine in memory, no Kafka, a separate program), over one input file written once. Each job is
one setting (the rules' variables) and a group of rule files; jobs run in parallel processes.
A what-if setting re-runs only the rules whose files use the variables it changes; the other
rules' alerts are the same as under the base setting and are taken from its run.

Scoring uses the alerts the rules really wrote, by the alert identity of DESIGN.md: `rule_id`
and `transaction_id` for a per-transaction rule, `rule_id`, `account_id` and `window_start` for
a window rule (a window's updates are one alert). A per-transaction alert is about its
transaction; a window alert about the account's transactions inside its window. An alert is
true when it is about a fraud transaction (and true for its rule's own scenario when about a
transaction of a scenario that rule is meant to catch).
"""

from __future__ import annotations

import bisect
import json
import os
import re
import subprocess
import tempfile
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from streamguard.migrations.defines import default_defines, value_problem
from streamguard.migrations.errors import ConfigError
from streamguard.migrations.files import MigrationFile, all_migrations
from streamguard.producer.scenarios import Scenario
from streamguard.rules.change import RuleChangeError, read_change
from streamguard.rules.runner import ALERTS_TOPIC, is_rule, test_runner_command
from streamguard.rules.traffic import Labelled, Traffic

_VARIABLE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_@]*)\}")
_DEFINE = re.compile(
    r"^[ \t]*DEFINE\s+([A-Za-z_][A-Za-z0-9_@]*)\s*=\s*'((?:[^']|'')*)'\s*;[ \t]*$",
    re.IGNORECASE | re.MULTILINE,
)
_RULE_ID = re.compile(r"'([a-z0-9_]+)'\s+AS\s+rule_id\b", re.IGNORECASE)
NORMAL = Scenario.NORMAL.value


class BacktestError(Exception):
    """A backtest that cannot run: a bad option, an unknown rule or variable, a failed rule."""


@dataclass(frozen=True)
class Rule:
    """A rule file of ksql/, the rule_id its alerts carry and the scenarios it is meant for."""

    name: str  # the file's name after the version: rule_velocity
    rule_id: str  # velocity
    migration: MigrationFile
    text: str
    defaults: dict[str, str]  # the variables its file DEFINEs, with their values
    variables: frozenset[str]  # the variables its statements use
    scenarios: frozenset[str]  # the fraud scenarios it is meant to catch


@dataclass(frozen=True)
class RuleSet:
    """The rules to backtest and the files before them that set up what they read and write."""

    setup: list[MigrationFile]
    rules: list[Rule]
    # The project's default values (ksql-defines.properties), which the files do not DEFINE.
    project_defaults: dict[str, str] = field(default_factory=dict)

    @property
    def defaults(self) -> dict[str, str]:
        merged: dict[str, str] = dict(self.project_defaults)
        for text in [m.read_text() for m in self.setup] + [r.text for r in self.rules]:
            merged.update(_defines(text))
        return merged

    def variables(self) -> set[str]:
        return set().union(*(r.variables for r in self.rules))

    def touched_by(self, names: set[str]) -> list[Rule]:
        return [r for r in self.rules if r.variables & names]


def load_rules(ksql_dir: Path, names: Sequence[str] = ()) -> RuleSet:
    """The rule files of `ksql_dir` (all, or those named by file name or rule_id)."""
    migrations = all_migrations(ksql_dir)
    if not migrations:
        raise BacktestError(f"no migration files V<version>__<name>.sql in {ksql_dir}")
    rules: list[Rule] = []
    setup: list[MigrationFile] = []
    texts = [(migration, migration.read_text()) for migration in migrations]
    try:
        project = default_defines(ksql_dir)
        # A rule changed with `rules change` runs with its latest values: its change files are
        # those values, not rules of their own.
        changes = {m.version: c for m, text in texts if (c := read_change(text)) is not None}
    except (ConfigError, RuleChangeError) as exc:
        raise BacktestError(str(exc)) from None
    for change in changes.values():
        project.update(change.new)
    for migration, text in texts:
        if migration.version in changes:
            continue
        if not is_rule(migration):
            if not rules:
                setup.append(migration)
            continue
        name = migration.path.stem.split("__", 1)[1]
        found = _RULE_ID.search(text)
        rule_id = found.group(1) if found else name.removeprefix("rule_")
        rules.append(
            Rule(
                name=name,
                rule_id=rule_id,
                migration=migration,
                text=text,
                defaults={
                    **{k: v for k, v in project.items() if k in _VARIABLE.findall(text)},
                    **_defines(text),
                },
                variables=frozenset(_VARIABLE.findall(text)),
                scenarios=frozenset(s.value for s in Scenario.fraud() if s.rule_id == rule_id),
            )
        )
    if not rules:
        raise BacktestError(f"no rule files (files that INSERT INTO fraud_alerts) in {ksql_dir}")
    if names:
        by_name = {r.name: r for r in rules} | {r.rule_id: r for r in rules}
        unknown = [n for n in names if n not in by_name]
        if unknown:
            known = ", ".join(r.rule_id for r in rules)
            raise BacktestError(f"no rule {', '.join(unknown)} in {ksql_dir}; the rules: {known}")
        rules = list({by_name[n].name: by_name[n] for n in names}.values())
    return RuleSet(setup, rules, project)


def _defines(text: str) -> dict[str, str]:
    return {m.group(1): m.group(2).replace("''", "'") for m in _DEFINE.finditer(text)}


# -- settings -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Setting:
    """Values for some of the rules' variables, over their files' defaults."""

    values: tuple[tuple[str, str], ...] = ()

    @property
    def label(self) -> str:
        return ", ".join(f"{k}={v}" for k, v in self.values) or "defaults"

    def with_value(self, name: str, value: str) -> Setting:
        merged = dict(self.values) | {name: value}
        return Setting(tuple(sorted(merged.items())))


def parse_define(text: str, rules: RuleSet) -> tuple[str, str]:
    """`name=value` checked against the rules: a variable they use, a value of its kind."""
    name, sep, value = text.partition("=")
    name, value = name.strip(), value.strip()
    if not sep or not name:
        raise BacktestError(f"--define {text!r}: expected NAME=VALUE, e.g. velocity_min_count=8")
    _check_value(name, value, rules, "--define")
    return name, value


def parse_compare(text: str, rules: RuleSet) -> tuple[str, list[str]]:
    """`name=v1,v2,...`: the values of one variable to run side by side."""
    name, sep, values_text = text.partition("=")
    name = name.strip()
    values = [v.strip() for v in values_text.split(",") if v.strip()]
    if not sep or not name or not values:
        raise BacktestError(
            f"--compare {text!r}: expected NAME=V1,V2,..., e.g. velocity_min_count=4,5,6,8"
        )
    if len(set(values)) != len(values):
        raise BacktestError(f"--compare {text!r}: a value is given twice")
    for value in values:
        _check_value(name, value, rules, "--compare")
    return name, values


def _check_value(name: str, value: str, rules: RuleSet, option: str) -> None:
    used = rules.variables()
    if name not in used:
        raise BacktestError(
            f"{option}: no rule uses the variable {name!r}; the rules' variables are: "
            f"{', '.join(sorted(used))}"
        )
    problem = value_problem(name, value, rules.defaults.get(name))
    if problem is not None:
        raise BacktestError(f"{option}: {problem}")


def statements(rules: RuleSet, chosen: Sequence[Rule], setting: Setting) -> str:
    """The setup files and the chosen rules' files, the setting's values in place of their
    files' own DEFINEs (defined once, up front, as a command-line --define would be)."""
    overrides = dict(setting.values)
    values = {**rules.project_defaults, **overrides}
    parts = [f"DEFINE {k} = '{v}';" for k, v in values.items()]
    for migration in rules.setup:
        parts.append(f"-- {migration.path.name}\n{_without(migration.read_text(), overrides)}")
    for rule in chosen:
        parts.append(f"-- {rule.migration.path.name}\n{_without(rule.text, overrides)}")
    return "\n".join(parts)


def _without(text: str, overrides: dict[str, str]) -> str:
    return _DEFINE.sub(lambda m: "" if m.group(1) in overrides else m.group(0), text)


# -- re-running only what a setting changes --------------------------------------------------

_QUERY = re.compile(
    r"^\s*(?:CREATE\s+(?:OR\s+REPLACE\s+)?(?:STREAM|TABLE)\s+(\w+)\b.*?\bAS\s+SELECT\b"
    r"|INSERT\s+INTO\s+(\w+)\b)",
    re.IGNORECASE | re.DOTALL,
)
_DECLARATION = re.compile(
    r"^\s*CREATE\s+(?:OR\s+REPLACE\s+)?(?:STREAM|TABLE)\s+(\w+)", re.IGNORECASE
)
_READS = re.compile(r"\b(?:FROM|JOIN)\s+(\w+)", re.IGNORECASE)
_TOPIC = re.compile(r"\bKAFKA_TOPIC\s*=\s*'([^']+)'", re.IGNORECASE)


@dataclass(frozen=True)
class Partial:
    """A rule re-run from the middle: only its queries that a setting changes, fed with the
    records that its unchanged queries wrote in the base run (the same records in the same
    order, so the alerts are those a whole run would write)."""

    statements: list[str]  # the rule file's statements to run (DEFINEs, declarations, queries)
    topics: list[str]  # the topics whose base-run records are the input


def partial(rule: Rule, changed: set[str], setup_topics: set[str]) -> Partial | None:
    """How to re-run `rule` when the variables `changed` change, or None for a whole run (a
    changed query reads the input topic itself, or reads what a query creates directly)."""
    from streamguard.migrations.sql import split_sql

    try:
        parts = [text for text, _ in split_sql(rule.text)]
    except Exception:  # a file the runner would refuse: the whole run reports it
        return None
    queries: list[tuple[int, str | None, set[str]]] = []  # index, name created, names read
    declared: dict[str, str] = {}  # declared (not AS SELECT) source -> topic
    created: dict[str, str] = {}  # query-created source -> topic
    for n, text in enumerate(parts):
        query = _QUERY.match(text)
        if query:
            name = query.group(1)
            reads = {r.lower() for r in _READS.findall(text)}
            queries.append((n, name.lower() if name else None, reads))
            topic = _TOPIC.search(text)
            if name:
                created[name.lower()] = topic.group(1) if topic else name.upper()
            continue
        declaration = _DECLARATION.match(text)
        if declaration:
            topic = _TOPIC.search(text)
            if topic:
                declared[declaration.group(1).lower()] = topic.group(1)
    rerun = {n for n, _, _ in queries if set(_VARIABLE.findall(parts[n])) & changed}
    grew = True
    while grew:  # what reads a re-run query's output is re-run too
        outputs = {name for n, name, _ in queries if n in rerun and name}
        more = {n for n, _, reads in queries if reads & outputs} - rerun
        rerun |= more
        grew = bool(more)
    kept_outputs = {created[name] for n, name, _ in queries if n not in rerun and name}
    topics: set[str] = set()
    for n, _, reads in queries:
        if n not in rerun:
            continue
        for source in reads:
            if source in created and not any(m in rerun for m, nm, _ in queries if nm == source):
                return None  # reads a dropped query's source by name
            feed = declared.get(source)
            if feed in setup_topics or (feed is None and source not in created):
                return None  # reads the traffic itself: a whole run costs the same
            if feed is not None:
                if feed not in kept_outputs:
                    return None
                topics.add(feed)
    if not rerun or not topics:
        return None
    dropped = {n for n, _, _ in queries if n not in rerun}
    kept = [text for n, text in enumerate(parts) if n not in dropped]
    return Partial(kept, sorted(topics))


# -- running --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Alert:
    rule_id: str
    account_id: str
    transaction_id: str | None
    window_start: int | None
    window_end: int | None
    card_id: str | None
    merchant_id: str | None

    @property
    def identity(self) -> tuple[str, str, Any]:
        if self.transaction_id is not None:
            return (self.rule_id, "", self.transaction_id)
        return (self.rule_id, self.account_id, self.window_start)


@dataclass
class Run:
    """What one setting's rules wrote, by rule_id (each alert once, by its identity)."""

    setting: Setting
    alerts: dict[str, list[Alert]] = field(default_factory=dict)
    seconds: float = 0.0


Progress = Callable[[str], None]


@dataclass
class _Job:
    index: int  # which run: 0 the base setting, then each other setting
    setting: Setting
    rules: list[Rule]
    sql: str
    input_path: Path
    keep_topics: set[str] = field(default_factory=set)  # records to keep for partial jobs
    partial: Partial | None = None


def run_settings(
    rules: RuleSet,
    traffic: Traffic,
    base: Setting,
    others: Sequence[Setting] = (),
    *,
    workers: int | None = None,
    progress: Progress | None = None,
) -> list[Run]:
    """The base setting over every rule, and each other setting over the rules it touches
    (the rest taken from the base run). Runs in order: base first.

    A window rule whose threshold sits in its last query is re-run from that query only, over
    the window updates its table wrote in the base run (`partial`), which costs a fraction of
    running the table again; other touched rules run whole, alongside the base run.
    """
    workers = workers or max(1, os.cpu_count() or 1)
    command = test_runner_command()
    setup_topics = {found.group(1) for m in rules.setup if (found := _TOPIC.search(m.read_text()))}
    with tempfile.TemporaryDirectory(prefix="streamguard-backtest-") as work:
        folder = Path(work)
        input_path = folder / "input.json"
        traffic.write_runner_input(input_path)
        defaults = rules.defaults | dict(base.values)
        whole: list[_Job] = []  # touched rules that a setting re-runs whole
        later: list[_Job] = []  # and those re-run from the middle, after the base run
        keep: dict[str, set[str]] = defaultdict(set)  # rule -> topics its base run must keep
        for index, setting in enumerate(others, start=1):
            changed = {k for k, v in setting.values if defaults.get(k) != v}
            for rule in rules.touched_by(changed):
                plan = partial(rule, changed, setup_topics)
                if plan is None:
                    sql = statements(rules, [rule], setting)
                    whole.append(_Job(index, setting, [rule], sql, input_path))
                    continue
                keep[rule.name].update(plan.topics)
                sql = _partial_statements(rules, plan, setting)
                later.append(_Job(index, setting, [rule], sql, folder, partial=plan))
        # The base run split into as many groups as there are workers, by a rough cost (a
        # window rule several times a per-transaction one; keeping its table's records for
        # what-if runs adds to it), heaviest first into the lightest group. The what-if runs
        # start as soon as the group that feeds them is done.
        groups: list[list[Rule]] = [[] for _ in range(min(workers, len(rules.rules)))]
        load = [0.0] * len(groups)
        for rule in sorted(rules.rules, key=lambda r: -_cost(r, keep)):
            lightest = load.index(min(load))
            groups[lightest].append(rule)
            load[lightest] += _cost(rule, keep)
        first = [_Job(0, base, g, statements(rules, g, base), input_path) for g in groups if g]
        for job in first:
            job.keep_topics = set().union(*(keep[r.name] for r in job.rules))
        runs = [Run(base)] + [Run(s) for s in others]
        started = time.monotonic()

        def one(job: _Job) -> tuple[_Job, dict[str, list[Alert]], dict[str, list[Any]]]:
            alerts, records = _run_job(command, folder, job)
            if progress:
                names = ", ".join(r.rule_id for r in job.rules)
                progress(f"{job.setting.label}: {names} ({time.monotonic() - started:.0f} s)")
            return job, alerts, records

        kept: dict[str, list[dict[str, Any]]] = {}
        inputs: dict[tuple[str, ...], Path] = {}  # each partial input written once
        with ThreadPoolExecutor(max_workers=workers) as pool:
            pending = {pool.submit(one, job) for job in first + whole}
            while pending:
                done, pending = wait(pending, return_when=FIRST_COMPLETED)
                for future in done:
                    job, alerts, records = future.result()
                    runs[job.index].alerts.update(alerts)
                    kept.update(records)
                    ready = [j for j in later if j.partial and set(j.partial.topics) <= set(kept)]
                    for j in ready:
                        assert j.partial is not None
                        topics = tuple(j.partial.topics)
                        if topics not in inputs:
                            inputs[topics] = folder / f"input-{len(inputs)}.json"
                            _write_records(inputs[topics], [r for t in topics for r in kept[t]])
                        j.input_path = inputs[topics]
                        later.remove(j)
                        pending.add(pool.submit(one, j))
        for run in runs[1:]:
            for rule in rules.rules:
                run.alerts.setdefault(rule.rule_id, runs[0].alerts.get(rule.rule_id, []))
        for run in runs:
            run.seconds = time.monotonic() - started
    return runs


def _partial_statements(rules: RuleSet, plan: Partial, setting: Setting) -> str:
    overrides = dict(setting.values)
    values = {**rules.project_defaults, **overrides}
    parts = [f"DEFINE {k} = '{v}';" for k, v in values.items()]
    parts += [_without(m.read_text(), overrides) for m in rules.setup]
    parts += [_without(text, overrides) for text in plan.statements]
    return "\n".join(parts)


def _write_records(path: Path, records: list[dict[str, Any]]) -> None:
    """Records a base run wrote, as the input of a partial run: each topic's in the order
    written, without the key and window of the table's changelog (the stream that reads it
    back is keyless)."""
    with path.open("w") as out:
        out.write('{"inputs":[\n')
        out.write(
            ",\n".join(
                json.dumps(
                    {"topic": r["topic"], "value": r["value"], "timestamp": r["timestamp"]},
                    separators=(",", ":"),
                )
                for r in records
            )
        )
        out.write("]}\n")


def _cost(rule: Rule, keep: dict[str, set[str]]) -> float:
    """A rough cost of running a rule over the traffic, to share the work out."""
    windows = len(re.findall(r"\bWINDOW\s+(?:TUMBLING|HOPPING|SESSION)", rule.text, re.I))
    return 1 + 3 * windows + (1 if keep.get(rule.name) else 0)


def _run_job(
    command: list[str], folder: Path, job: _Job
) -> tuple[dict[str, list[Alert]], dict[str, list[Any]]]:
    tag = f"{job.index}-{'-'.join(r.rule_id for r in job.rules)}"
    sql_path = folder / f"statements-{tag}.sql"
    actual_path = folder / f"actual-{tag}.json"
    sql_path.write_text(job.sql)
    argv = [*command, "-s", str(sql_path), "-i", str(job.input_path)]
    argv += ["--actual-file", str(actual_path)]
    for topic in sorted({ALERTS_TOPIC, *job.keep_topics}):
        argv += ["--actual-topic", topic]
    try:
        done = subprocess.run(argv, capture_output=True, text=True)
    except FileNotFoundError:
        raise BacktestError(f"the ksql test runner {command[0]!r} is not installed") from None
    if done.returncode != 0 or not actual_path.exists():
        said = (done.stdout + done.stderr).strip() or f"exit status {done.returncode}"
        names = ", ".join(r.name for r in job.rules)
        raise BacktestError(f"the statements of {names} failed: {said[-2000:]}")
    written = json.loads(actual_path.read_text())["outputs"]
    actual_path.unlink()
    by_identity: dict[str, dict[tuple[str, str, Any], Alert]] = {r.rule_id: {} for r in job.rules}
    records: dict[str, list[Any]] = {topic: [] for topic in job.keep_topics}
    for record in written:
        if record["topic"] in records:
            records[record["topic"]].append(record)
        if record["topic"] != ALERTS_TOPIC or record.get("value") is None:
            continue
        alert = _alert(record["value"])
        # A window that grows updates the same alert: the last update stands for it.
        by_identity.setdefault(alert.rule_id, {})[alert.identity] = alert
    alerts = {rule_id: list(found.values()) for rule_id, found in by_identity.items()}
    return alerts, records


def _alert(value: dict[str, Any]) -> Alert:
    v = {k.upper(): item for k, item in value.items()}

    def number(name: str) -> int | None:
        item = v.get(name)
        return None if item is None else int(item)

    return Alert(
        rule_id=str(v.get("RULE_ID")),
        account_id=str(v.get("ACCOUNT_ID")),
        transaction_id=v.get("TRANSACTION_ID"),
        window_start=number("WINDOW_START"),
        window_end=number("WINDOW_END"),
        card_id=v.get("CARD_ID"),
        merchant_id=v.get("MERCHANT_ID"),
    )


# -- scoring --------------------------------------------------------------------------------


@dataclass
class RuleScore:
    rule_id: str
    scenarios: list[str]
    alerts: int
    true_positives: int  # alerts about a fraud transaction
    false_positives: int  # alerts about normal transactions only
    own_true_positives: int  # alerts about a transaction of the rule's own scenarios
    own_frauds: int  # transactions of the rule's own scenarios in the traffic
    own_caught: int
    any_caught: int  # fraud transactions of any scenario this rule's alerts are about
    alerts_per_10k: float
    blacklist_hits: int
    false_by_case: dict[str, int]

    @property
    def precision(self) -> float | None:
        return self.true_positives / self.alerts if self.alerts else None

    @property
    def own_precision(self) -> float | None:
        if not self.scenarios:
            return None
        return self.own_true_positives / self.alerts if self.alerts else None

    @property
    def recall(self) -> float | None:
        """Recall on the rule's own scenarios."""
        return self.own_caught / self.own_frauds if self.own_frauds else None

    def any_recall(self, frauds: int) -> float | None:
        return self.any_caught / frauds if frauds else None


@dataclass
class Score:
    """One setting's numbers: per rule, overall, and the frauds no rule caught."""

    setting: Setting
    transactions: int
    frauds: int
    rules: list[RuleScore]
    alerts: int
    true_positives: int
    false_positives: int
    caught: int  # fraud transactions some alert is about
    frauds_by_scenario: dict[str, int]
    missed_by_scenario: dict[str, int]
    false_by_case: dict[str, int]
    blacklist_hits: int

    @property
    def precision(self) -> float | None:
        return self.true_positives / self.alerts if self.alerts else None

    @property
    def recall(self) -> float | None:
        return self.caught / self.frauds if self.frauds else None


class Index:
    """The traffic looked up by transaction id and by account and time."""

    def __init__(self, traffic: Traffic) -> None:
        self.traffic = traffic
        txns = traffic.transactions
        self.by_id = {t.transaction_id: n for n, t in enumerate(txns)}
        by_account: dict[str, list[tuple[int, int]]] = defaultdict(list)
        for n, t in enumerate(txns):
            by_account[t.account_id].append((t.event_time, n))
        self.times: dict[str, list[int]] = {}
        self.rows: dict[str, list[int]] = {}
        for account, pairs in by_account.items():
            pairs.sort()
            self.times[account] = [p[0] for p in pairs]
            self.rows[account] = [p[1] for p in pairs]
        self.frauds_by_scenario = Counter(t.scenario for t in txns if t.scenario != NORMAL)

    def about(self, alert: Alert) -> list[int]:
        """The transactions an alert is about (their positions in the traffic)."""
        if alert.transaction_id is not None:
            found = self.by_id.get(alert.transaction_id)
            return [] if found is None else [found]
        if alert.window_start is None:
            return []
        times = self.times.get(alert.account_id, [])
        end = alert.window_end if alert.window_end is not None else alert.window_start
        low = bisect.bisect_left(times, alert.window_start)
        high = bisect.bisect_left(times, end)
        return self.rows[alert.account_id][low:high]


def score(rules: RuleSet, index: Index, run: Run) -> Score:
    txns = index.traffic.transactions
    blacklist = index.traffic.blacklist
    frauds = sum(index.frauds_by_scenario.values())
    caught_any: set[int] = set()
    rule_scores: list[RuleScore] = []
    overall_false: Counter[str] = Counter()
    tp_total = fp_total = hits_total = 0
    for rule in rules.rules:
        alerts = run.alerts.get(rule.rule_id, [])
        tp = fp = own_tp = hits = 0
        caught: set[int] = set()
        false_by_case: Counter[str] = Counter()
        for alert in alerts:
            about = index.about(alert)
            fraud = [n for n in about if txns[n].scenario != NORMAL]
            caught.update(fraud)
            if fraud:
                tp += 1
                own_tp += any(txns[n].scenario in rule.scenarios for n in fraud)
            else:
                fp += 1
                false_by_case[_case(txns, about)] += 1
            hits += _hits(alert, blacklist)
        own_frauds = sum(index.frauds_by_scenario[s] for s in rule.scenarios)
        own_caught = sum(1 for n in caught if txns[n].scenario in rule.scenarios)
        caught_any |= caught
        overall_false.update(false_by_case)
        tp_total, fp_total, hits_total = tp_total + tp, fp_total + fp, hits_total + hits
        rule_scores.append(
            RuleScore(
                rule_id=rule.rule_id,
                scenarios=sorted(rule.scenarios),
                alerts=len(alerts),
                true_positives=tp,
                false_positives=fp,
                own_true_positives=own_tp,
                own_frauds=own_frauds,
                own_caught=own_caught,
                any_caught=len(caught),
                alerts_per_10k=len(alerts) * 10_000 / max(len(txns), 1),
                blacklist_hits=hits,
                false_by_case=dict(false_by_case),
            )
        )
    caught_by_scenario = Counter(txns[n].scenario for n in caught_any)
    missed = {
        s: total - caught_by_scenario[s] for s, total in sorted(index.frauds_by_scenario.items())
    }
    return Score(
        setting=run.setting,
        transactions=len(txns),
        frauds=frauds,
        rules=rule_scores,
        alerts=sum(r.alerts for r in rule_scores),
        true_positives=tp_total,
        false_positives=fp_total,
        caught=len(caught_any),
        frauds_by_scenario=dict(sorted(index.frauds_by_scenario.items())),
        missed_by_scenario=missed,
        false_by_case=dict(overall_false),
        blacklist_hits=hits_total,
    )


def _case(txns: list[Labelled], about: list[int]) -> str:
    """What a false alert was about: the hard case of normal traffic, or everyday traffic."""
    cases = {case for n in about if (case := txns[n].case)}
    return ", ".join(sorted(cases)) if cases else "everyday"


def _hits(alert: Alert, blacklist: set[tuple[str, str]]) -> int:
    if not blacklist:
        return 0
    return int(
        ("account", alert.account_id) in blacklist
        or (alert.card_id is not None and ("card", alert.card_id) in blacklist)
        or (alert.merchant_id is not None and ("merchant", alert.merchant_id) in blacklist)
    )


def alert_rows(rules: RuleSet, index: Index, run: Run) -> list[dict[str, Any]]:
    """Each alert of the run with what it was about: an analyst's list of true and false ones."""
    txns = index.traffic.transactions
    rows = []
    for rule in rules.rules:
        for alert in run.alerts.get(rule.rule_id, []):
            about = index.about(alert)
            scenarios = sorted({txns[n].scenario for n in about})
            frauds = [s for s in scenarios if s != NORMAL]
            rows.append(
                {
                    "rule_id": alert.rule_id,
                    "account_id": alert.account_id,
                    "transaction_id": alert.transaction_id,
                    "window_start": alert.window_start,
                    "window_end": alert.window_end,
                    "true": bool(frauds),
                    "own_scenario": any(s in rule.scenarios for s in frauds),
                    "scenarios": scenarios,
                    "cases": [] if frauds else _case(txns, about).split(", "),
                    "transactions": len(about),
                }
            )
    return rows
