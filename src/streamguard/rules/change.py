"""A rule's threshold changed under traffic: the migration that judges every transaction once.

ksqlDB's facts this is built on: TERMINATE deletes a query's consumer group, so a query started
again (under any id) reads from `auto.offset.reset`, not where the old one stopped; INSERT INTO
cannot be upgraded in place (CREATE OR REPLACE is for CREATE ... AS SELECT, and only simple
ones); a record's verdict depends only on the record (or, for a window rule, on its window's
row), so judging it again writes the same alert, which PostgreSQL's upsert on the alert identity
absorbs.

So a change at cut-over C (an event time, ms) is one migration file of four steps:

1. `SET 'auto.offset.reset' = 'earliest'`: the queries below read their source from the start;
2. the rule with the old values, `WHERE ... AND <time> < C`, as `<RULE>_UNTIL_<C>`;
3. the rule with the new values, `WHERE ... AND <time> >= C`, as `<RULE>_FROM_<C>`;
4. `TERMINATE` of the query that ran the rule until now (and of the previous change's
   `_UNTIL_` query, long past its own cut-over).

Steps 2 and 3 together judge every record exactly once, by the values in force at its time,
whenever they start and whatever they re-read; everything the terminated query wrote is
written again, identically, by step 2. The one condition: the terminated query must not have
judged a record of time >= C, so the file must be applied before C. The runner refuses to
apply it after (`migrate apply` checks the cut-over recorded in the file's first line), and C
is chosen a lead time ahead. `<time>` is the transaction's `event_time` for a per-transaction
rule and the window's `window_start` for a window rule: a window is judged by the values in
force at its start, and C is aligned to the rule's window size so that no window straddles it.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Collection, Mapping
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from streamguard.migrations.defines import default_defines, value_problem
from streamguard.migrations.files import MigrationFile, all_migrations, new_file_name
from streamguard.migrations.sql import Kind, parse_migration

HEADER_PREFIX = "-- streamguard rule change: "
# The least time between applying a change and its cut-over: the terminated query must not
# have judged a record at or after the cut-over, and statements take seconds to run.
MIN_LEAD_MS = 5_000
DEFAULT_LEAD_S = 60
# How long after a cut-over its `_UNTIL_` query keeps running for late records before the next
# change of the rule retires it.
RETIRE_AFTER_MS = 10 * 60_000

_INSERT = re.compile(r"^\s*INSERT\s+INTO\s+fraud_alerts\b", re.IGNORECASE)
_QUERY_ID = re.compile(r"QUERY_ID\s*=\s*'(\w+)'", re.IGNORECASE)
_VARIABLE = re.compile(r"\$\{([a-zA-Z_][a-zA-Z0-9_@]*)\}")
_WHERE = re.compile(r"\bWHERE\b", re.IGNORECASE)
_AFTER_WHERE = re.compile(r"\b(PARTITION\s+BY|EMIT\s+CHANGES)\b", re.IGNORECASE)
_FROM = re.compile(r"\bFROM\s+(\w+)", re.IGNORECASE)
_WINDOW_SIZE = re.compile(
    r"WINDOW\s+(?:TUMBLING|HOPPING)\s*\(\s*SIZE\s+(\d+)\s+(SECOND|MINUTE|HOUR|DAY)S?",
    re.IGNORECASE,
)
_UNIT_MS = {"SECOND": 1_000, "MINUTE": 60_000, "HOUR": 3_600_000, "DAY": 86_400_000}


class RuleChangeError(ValueError):
    """A change that cannot be written or applied; the message says what to do instead."""


@dataclass(frozen=True)
class RuleChange:
    """What a change file records in its first line (the cut-over, for analysts and tools)."""

    rule: str
    cutover_ms: int
    cutover: str
    time_column: str
    old: dict[str, str]
    new: dict[str, str]
    until_query: str
    from_query: str
    terminated: list[str] = field(default_factory=list)

    def header(self) -> str:
        return HEADER_PREFIX + json.dumps(asdict(self), sort_keys=True)


def read_change(text: str) -> RuleChange | None:
    """The change a migration file records, or None for any other file."""
    first = text.split("\n", 1)[0]
    if not first.startswith(HEADER_PREFIX):
        return None
    try:
        return RuleChange(**json.loads(first[len(HEADER_PREFIX) :]))
    except (ValueError, TypeError) as exc:
        raise RuleChangeError(f"a malformed rule change header: {exc}") from None


def rule_name(name: str) -> str:
    """`high_amount` for `high_amount`, `rule_high_amount` or its file's name."""
    stem = Path(name).stem.split("__", 1)[-1]
    return stem.removeprefix("rule_")


def changes_of(
    migrations: list[MigrationFile], rule: str
) -> list[tuple[MigrationFile, RuleChange]]:
    found = []
    for migration in migrations:
        change = read_change(migration.read_text())
        if change is not None and change.rule == rule:
            found.append((migration, change))
    return found


def current_values(migrations_dir: Path, rule: str) -> dict[str, str]:
    """The rule's variables as ksql/ leaves them: the defaults, then each change's new values."""
    values = default_defines(migrations_dir)
    for _migration, change in changes_of(all_migrations(migrations_dir), rule_name(rule)):
        values.update(change.new)
    return values


def check_cutover(text: str, now_ms: int, started_before: Collection[str] = ()) -> None:
    """Refuses a change file whose cut-over is past, or too close to judge on its side, unless
    every query it terminates is one that `started_before` (the files applied before it in the
    same run) start: a server that applies the rule's history afresh (a new stack, a new
    clone) has no query that judged transactions by the old values for long."""
    change = read_change(text)
    if change is None or change.cutover_ms - now_ms >= MIN_LEAD_MS:
        return
    if change.terminated and set(change.terminated) <= set(started_before):
        return
    raise RuleChangeError(
        f"its cut-over {change.cutover} has passed (or is under {MIN_LEAD_MS // 1000} s away): "
        f"the query it terminates may already have judged transactions after it by the old "
        f"values. Delete the file and write the change again: streamguard rules change "
        f"{change.rule} " + " ".join(f"--define {k}={v}" for k, v in change.new.items())
    )


def write_change(
    migrations_dir: Path,
    rule: str,
    new_values: Mapping[str, str],
    *,
    cutover_ms: int | None = None,
    lead_s: float = DEFAULT_LEAD_S,
    now_ms: int | None = None,
) -> tuple[Path, RuleChange]:
    """Writes the next migration of `migrations_dir`: `rule` changed to `new_values` at the
    cut-over (given, or the first window boundary `lead_s` from now)."""
    rule = rule_name(rule)
    now = int(time.time() * 1000) if now_ms is None else now_ms
    migrations = all_migrations(migrations_dir)
    original = _rule_file(migrations, rule)
    insert = _insert_of(original)
    used = set(_VARIABLE.findall(insert))
    unknown = sorted(set(new_values) - used)
    if unknown:
        elsewhere = sorted(
            set(unknown) & {v for s in parse_migration(original.read_text()) for v in s.variables()}
        )
        if elsewhere:
            raise RuleChangeError(
                f"{', '.join(elsewhere)} is used by a statement of {original.path.name} other "
                "than its INSERT (a table that keeps state); a change of it rebuilds that state "
                "and is a migration to write by hand"
            )
        raise RuleChangeError(
            f"rule {rule} has no variable {', '.join(unknown)}; its variables are: "
            f"{', '.join(sorted(used)) or 'none'}"
        )
    old = {
        name: value for name, value in current_values(migrations_dir, rule).items() if name in used
    }
    missing = sorted(used - set(old))
    if missing:
        raise RuleChangeError(f"no value for {', '.join(missing)} in ksql-defines.properties")
    for name, value in new_values.items():
        problem = value_problem(name, value, old.get(name))
        if problem is not None:
            raise RuleChangeError(problem)
    new = {**old, **new_values}
    if new == old:
        raise RuleChangeError(f"{rule} already runs with {_pairs(new_values)}")

    window_ms = _window_ms(original.read_text())
    if cutover_ms is None:
        target = now + int(lead_s * 1000)
        cutover_ms = -(-target // window_ms) * window_ms
    elif cutover_ms - now < MIN_LEAD_MS:
        raise RuleChangeError("the cut-over must be in the future, far enough to apply the file")
    elif cutover_ms % window_ms:
        raise RuleChangeError(
            f"the cut-over must fall on a window boundary of the rule (a multiple of "
            f"{window_ms // 1000} s), so that no window straddles it"
        )

    previous = changes_of(migrations, rule)
    base = _QUERY_ID.search(insert)
    if base is None:
        raise RuleChangeError(f"{original.path.name}'s INSERT has no QUERY_ID to change it by")
    running = previous[-1][1].from_query if previous else base.group(1)
    terminated = [running]
    if previous:
        last = previous[-1][1]
        if now < last.cutover_ms + RETIRE_AFTER_MS:
            raise RuleChangeError(
                f"the previous change of {rule} cuts over at {last.cutover}; its query for "
                f"late transactions before it runs until {_iso(last.cutover_ms + RETIRE_AFTER_MS)}"
                ": change the rule again after that"
            )
        terminated.append(last.until_query)
    stamp = datetime.fromtimestamp(cutover_ms / 1000, UTC).strftime("%Y%m%dT%H%M%SZ")
    column = "event_time" if _source(insert) == "transactions" else "window_start"
    change = RuleChange(
        rule=rule,
        cutover_ms=cutover_ms,
        cutover=_iso(cutover_ms),
        time_column=column,
        old=old,
        new=new,
        until_query=f"{base.group(1)}_UNTIL_{stamp}",
        from_query=f"{base.group(1)}_FROM_{stamp}",
        terminated=terminated,
    )
    text = _render(change, insert, original.path.name)
    version = migrations[-1].version + 1
    path = migrations_dir / new_file_name(version, f"change_{rule}_at_{stamp}")
    path.write_text(text, encoding="utf-8")
    return path, change


def _render(change: RuleChange, insert: str, original: str) -> str:
    before = _bounded(
        insert, change.until_query, change.old, f"{change.time_column} < {change.cutover_ms}"
    )
    after = _bounded(
        insert, change.from_query, change.new, f"{change.time_column} >= {change.cutover_ms}"
    )
    lines = [
        change.header(),
        f"-- Rule {change.rule} changes from {_pairs(change.old)} to {_pairs(change.new)} at "
        f"{change.cutover} ({change.cutover_ms} ms):",
        f"-- the {change.time_column} of a record decides which values judge it. Written by",
        "-- `streamguard rules change`; apply it BEFORE the cut-over (`migrate apply` refuses",
        "-- after). Both queries read from the start and keep to their side of the cut-over, so",
        "-- every record is judged once; what the terminated query wrote is written again,",
        "-- identically, and PostgreSQL's upsert on the alert identity keeps one row.",
        f"-- The rule's statements are those of {original}.",
        "SET 'auto.offset.reset' = 'earliest';",
        "",
        before,
        "",
        after,
        "",
        *(f"TERMINATE {query};" for query in change.terminated),
        "",
    ]
    return "\n".join(lines)


def _bounded(insert: str, query_id: str, values: Mapping[str, str], bound: str) -> str:
    text = _QUERY_ID.sub(f"QUERY_ID = '{query_id}'", insert, count=1)
    text = _VARIABLE.sub(lambda m: values[m.group(1)], text)
    where = _WHERE.search(text)
    if where is None:
        raise RuleChangeError("the rule's INSERT has no WHERE clause to bound by the cut-over")
    end = _AFTER_WHERE.search(text, where.end())
    stop = end.start() if end is not None else len(text.rstrip().rstrip(";"))
    condition = text[where.end() : stop].strip()
    return f"{text[: where.start()]}WHERE ({condition})\n    AND {bound}\n  {text[stop:].lstrip()}"


def _rule_file(migrations: list[MigrationFile], rule: str) -> MigrationFile:
    for migration in migrations:
        if migration.path.stem.split("__", 1)[1] == f"rule_{rule}":
            return migration
    known = [
        m.path.stem.split("__", 1)[1].removeprefix("rule_")
        for m in migrations
        if m.path.stem.split("__", 1)[1].startswith("rule_")
    ]
    raise RuleChangeError(
        f"no rule {rule} (a file V<version>__rule_{rule}.sql); the rules are: {', '.join(known)}"
    )


def _insert_of(migration: MigrationFile) -> str:
    inserts = [
        s.text.strip()
        for s in parse_migration(migration.read_text(), migration.path)
        if s.kind is Kind.STATEMENT and _INSERT.match(s.text)
    ]
    if len(inserts) != 1:
        raise RuleChangeError(
            f"{migration.path.name} has {len(inserts)} INSERT INTO fraud_alerts; a change "
            "needs exactly one"
        )
    return inserts[0]


def _source(insert: str) -> str:
    match = _FROM.search(insert[insert.upper().index("SELECT") :])
    return match.group(1).lower() if match else ""


def _window_ms(text: str) -> int:
    sizes = [int(n) * _UNIT_MS[unit.upper()] for n, unit in _WINDOW_SIZE.findall(text)]
    return max(sizes, default=60_000)


def _iso(epoch_ms: int) -> str:
    return datetime.fromtimestamp(epoch_ms / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _pairs(values: Mapping[str, str]) -> str:
    return ", ".join(f"{k}={v}" for k, v in values.items())


def queries_started(text: str) -> set[str]:
    """The query ids a migration file's statements start (their QUERY_IDs)."""
    return set(_QUERY_ID.findall(text))
