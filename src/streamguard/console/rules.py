"""The rules as the console shows them: each rule file's SQL and thresholds, its migration
state, its query on the ksqlDB server and its latest backtest figures."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from streamguard.ksqldb import KsqlClient, KsqlError, QueriesList
from streamguard.migrations import verbs
from streamguard.migrations.config import MigrationConfig
from streamguard.migrations.errors import MigrationError
from streamguard.migrations.files import MigrationFile, all_migrations
from streamguard.rules.change import RuleChange, RuleChangeError, read_change, rule_name

# A rule names itself in the alerts it writes ('velocity' AS rule_id) and fixes its query's id.
_RULE_ID = re.compile(r"'([A-Za-z0-9_]+)'\s+AS\s+rule_id\b", re.IGNORECASE)
_SEVERITY = re.compile(r"'([A-Z]+)'\s+AS\s+severity\b", re.IGNORECASE)
_QUERY_ID = re.compile(r"QUERY_ID\s*=\s*'([^']+)'", re.IGNORECASE)
_DEFINE = re.compile(r"^\s*DEFINE\s+(\w+)\s*=\s*'([^']*)'\s*;", re.IGNORECASE | re.MULTILINE)


@dataclass
class Rule:
    rule_id: str
    version: int
    file: str
    sql: str
    severity: str
    query_id: str | None
    thresholds: dict[str, str]
    migration_state: str = "unknown"
    query_state: str = "unknown"
    changed: str = ""
    backtest: dict[str, Any] = field(default_factory=dict)


_VARIABLE = re.compile(r"\$\{(\w+)\}")


def _rule_of(migration: MigrationFile, defaults: dict[str, str]) -> Rule | None:
    sql = migration.path.read_text(encoding="utf-8")
    found = _RULE_ID.search(sql)
    if found is None:
        return None  # a file of streams or tables, not a rule
    severity = _SEVERITY.search(sql)
    query_id = _QUERY_ID.search(sql)
    return Rule(
        rule_id=found.group(1),
        version=migration.version,
        file=migration.path.name,
        sql=sql,
        severity=severity.group(1).upper() if severity else "",
        query_id=query_id.group(1) if query_id else None,
        # The project's defaults (ksql-defines.properties) for the variables the rule uses,
        # under any value its file DEFINEs itself.
        thresholds={
            **{k: v for k, v in defaults.items() if k in _VARIABLE.findall(sql)},
            **dict(_DEFINE.findall(sql)),
        },
    )


def read_rules(rules_dir: Path) -> list[Rule]:
    """Every rule file of `rules_dir` (ksql/), in version order."""
    from streamguard.migrations.defines import default_defines
    from streamguard.migrations.errors import ConfigError

    try:
        defaults = default_defines(rules_dir)
    except ConfigError:  # the page shows the files; the values' file is migrate's to report
        defaults = {}
    migrations = all_migrations(rules_dir)
    # A rule changed with `rules change` is shown once, with the values and the query its
    # latest change file gives it: that file's queries are the rule's, not another rule.
    changes = {m.version: c for m in migrations if (c := _change_of(m)) is not None}
    latest = {change.rule: change for change in changes.values()}  # in version order
    rules = []
    for migration in migrations:
        if migration.version in changes:
            continue
        rule = _rule_of(migration, defaults)
        if rule is None:
            continue
        change = latest.get(rule_name(migration.path.name))
        if change is not None:
            rule.thresholds.update(change.new)
            rule.query_id = change.from_query
            rule.changed = f"changed at {change.cutover}"
        rules.append(rule)
    return rules


def _change_of(migration: MigrationFile) -> RuleChange | None:
    try:
        return read_change(migration.path.read_text(encoding="utf-8"))
    except RuleChangeError:
        return None  # migrate refuses the file and says why; the page shows the rest


def add_migration_states(rules: list[Rule], client: KsqlClient, rules_dir: Path) -> str | None:
    """Each rule's state as `migrate info` reports it; an error message when unavailable."""
    config = MigrationConfig(server_url=client.url, migrations_dir=rules_dir)
    try:
        report = verbs.info(config, client)
    except (KsqlError, MigrationError) as exc:
        return f"migration state unavailable: {exc}"
    states = {v.version: str(v.state) for v in report.versions}
    for rule in rules:
        rule.migration_state = states.get(rule.version, "PENDING")
    return None


def add_query_states(rules: list[Rule], client: KsqlClient) -> str | None:
    """Each rule's running query and its state, matched by QUERY_ID or by the rule id in the
    query's text; an error message when the server cannot say."""
    try:
        entities = client.execute("SHOW QUERIES;")
    except KsqlError as exc:
        return f"queries unavailable: {exc}"
    queries = [q for e in entities if isinstance(e, QueriesList) for q in e.queries]
    for rule in rules:
        literal = f"'{rule.rule_id}'"
        match = next((q for q in queries if rule.query_id and q.id == rule.query_id), None)
        match = match or next((q for q in queries if literal in q.query_string), None)
        rule.query_state = f"{match.id}: {match.state or 'RUNNING'}" if match else "not running"
    return None


def add_backtest(rules: list[Rule], report: Path | None) -> str | None:
    """Each rule's figures from a backtest report (`streamguard rules backtest --json`), when
    one exists: the report's per-rule entry, whether a list of objects with `rule_id` or an
    object keyed by rule."""
    if report is None or not report.is_file():
        return None
    try:
        data = json.loads(report.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        return f"backtest report {report} unreadable: {exc}"
    per_rule = data.get("rules", data) if isinstance(data, dict) else data
    entries: dict[str, Any] = {}
    if isinstance(per_rule, dict):
        entries = per_rule
    elif isinstance(per_rule, list):
        entries = {str(e.get("rule_id")): e for e in per_rule if isinstance(e, dict)}
    for rule in rules:
        figures = entries.get(rule.rule_id)
        if isinstance(figures, dict):
            scalars = {
                k: _figure(k, v) for k, v in figures.items() if isinstance(v, int | float | str)
            }
            scalars.pop("rule_id", None)
            rule.backtest = scalars
    return None


# The report's shares (0 to 1), shown as an analyst reads them.
_SHARES = frozenset({"precision", "own_precision", "recall", "any_fraud_recall"})


def _figure(name: str, value: int | float | str) -> int | float | str:
    if name in _SHARES and isinstance(value, float) and 0 <= value <= 1:
        return f"{value:.1%}"
    return value
