"""`migrate apply` ships a rule only with passing cases (or says it skipped them)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from streamguard.ksqldb import KsqlClient
from streamguard.migrations import verbs
from streamguard.migrations.config import MigrationConfig
from streamguard.migrations.errors import MigrationError
from streamguard.migrations.runner import Target
from streamguard.rules.gate import RuleTestsFailed
from tests.migrations.fake_ksqldb import FakeKsqlDB

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def project(tmp_path: Path) -> MigrationConfig:
    """The first three files of ksql/ (streams and high_amount) and the defaults, no cases."""
    ksql = tmp_path / "ksql"
    ksql.mkdir()
    for path in sorted((ROOT / "ksql").glob("V00000[123]__*.sql")):
        shutil.copy(path, ksql / path.name)
    shutil.copy(ROOT / "ksql-defines.properties", tmp_path)
    return MigrationConfig(server_url="http://ksqldb.test:8088", migrations_dir=ksql)


@pytest.fixture
def server() -> FakeKsqlDB:
    fake = FakeKsqlDB()
    fake.initialize()
    return fake


@pytest.fixture
def client(server: FakeKsqlDB) -> KsqlClient:
    return server.client()


def apply(config: MigrationConfig, client: KsqlClient, **kwargs: object) -> list[str]:
    shown: list[str] = []
    verbs.apply(
        config,
        client,
        Target(all=True),
        claim_settle_s=0,
        retry_delay_s=0,
        echo=shown.append,
        **kwargs,  # type: ignore[arg-type]
    )
    return shown


def add_cases(config: MigrationConfig) -> None:
    cases = config.project_dir / "tests" / "rules" / "cases"
    cases.mkdir(parents=True)
    shutil.copy(ROOT / "tests" / "rules" / "cases" / "rule_high_amount.toml", cases)


def test_a_rule_without_a_case_file_is_not_applied(
    project: MigrationConfig, client: KsqlClient, server: FakeKsqlDB
) -> None:
    with pytest.raises(RuleTestsFailed) as refused:
        apply(project, client)
    assert "no case file for V000003__rule_high_amount.sql" in str(refused.value)
    assert "rule_high_amount.toml" in str(refused.value)
    assert "--skip-rule-tests" in str(refused.value)
    assert server.user_statements() == []


def test_skipping_the_rule_tests_is_said(project: MigrationConfig, client: KsqlClient) -> None:
    shown = apply(project, client, rule_tests=False)
    assert "Rule cases NOT run (--skip-rule-tests) for: V000003__rule_high_amount.sql" in shown


def test_a_rule_whose_cases_fail_is_not_applied_and_passing_ones_are(
    project: MigrationConfig, client: KsqlClient, server: FakeKsqlDB
) -> None:
    add_cases(project)
    # The cases expect an alert on 5,000.01: a threshold of 9,000 fails them.
    with pytest.raises(RuleTestsFailed, match=r"so nothing was applied") as failing:
        apply(project, client, defines={"high_amount_threshold": "9000.00"})
    assert "with high_amount_threshold=9000.00 from --define" in str(failing.value)
    assert server.user_statements() == []

    shown = apply(project, client)
    assert any(line.startswith("Rule cases:") and "passed" in line for line in shown)
    assert server.table()["3"]["STATE"] == "MIGRATED"


def test_a_change_whose_cut_over_has_passed_applies_with_its_rule_on_a_new_server(
    project: MigrationConfig, client: KsqlClient, server: FakeKsqlDB
) -> None:
    """Once its cut-over had passed, a committed change stopped every new stack, clone and
    bench at `migrate apply --all`; it is only unsafe where the rule's query already runs."""
    from streamguard.rules.change import write_change

    past = 1_767_225_615_000  # 2026-01-01: the cut-over is long gone
    write_change(project.migrations_dir, "high_amount", {"high_amount_threshold": "7000.00"},
                 now_ms=past)  # fmt: skip
    shown = apply(project, client, rule_tests=False)
    assert server.table()["4"]["STATE"] == "MIGRATED", shown

    running = FakeKsqlDB()
    running.initialize()
    on_it = running.client()
    verbs.apply(project, on_it, Target(until=3), claim_settle_s=0, retry_delay_s=0,
                rule_tests=False)  # fmt: skip
    with pytest.raises(MigrationError, match="has passed"):
        apply(project, on_it, rule_tests=False)
    assert "4" not in running.table()
