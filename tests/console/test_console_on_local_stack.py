"""The console as an analyst uses it, and the metrics as Prometheus scrapes them: ./start.sh on a
local stack of its own, a real headless browser on every page, alerts the pipeline has just
written, every metrics endpoint parsed, and ./stop.sh at the end.

One stack serves the whole module. The pipeline runs for real: transactions go to Kafka, the
rules of ksql/ (applied by start.sh) turn them into alerts, the consumer writes them to
PostgreSQL, and the console shows what is there.
"""

from __future__ import annotations

import json
import re
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa
from confluent_kafka import Producer
from prometheus_client.parser import text_string_to_metric_families

from streamguard.models import Transaction
from streamguard.settings import get_settings
from tests.conftest import run_cli, stack_dir
from tests.console.browser import Browser, open_browser
from tests.e2e.test_start_stop import _env, _processes_mentioning, _script

pytestmark = pytest.mark.slow


@dataclass(frozen=True)
class Stack:
    state_dir: Path
    console_url: str
    kafka: str
    database_url: str

    def cli(self, *args: str) -> str:
        result = run_cli("--state-dir", str(self.state_dir), *args, env=_env(self.state_dir))
        assert result.returncode == 0, result.stdout + result.stderr
        return result.stdout.strip()


@pytest.fixture(scope="module")
def running() -> Iterator[Stack]:
    """./start.sh with a slow producer, its console's address read from what start.sh printed."""
    state_dir = stack_dir("console")
    try:
        started = _script(
            "start.sh", "--rate", "2", "--fraud-share", "0.2", "--console-port", "0",
            state_dir=state_dir,
        )  # fmt: skip
        assert started.returncode == 0, started.stdout[-3000:] + started.stderr[-3000:]
        lines = [line for line in started.stdout.splitlines() if line.startswith("Console:")]
        assert lines, f"start.sh printed no console address:\n{started.stdout[-2000:]}"
        url = lines[0].split()[-1]
        settings = get_settings(state_dir=state_dir)
        yield Stack(state_dir, url, settings.kafka, settings.database)
        stopped = _script("stop.sh", state_dir=state_dir)
        assert stopped.returncode == 0, stopped.stdout + stopped.stderr
        assert "console" in stopped.stdout
        assert not _processes_mentioning(str(state_dir)), "processes outlived ./stop.sh"
    finally:
        _script("stop.sh", "--purge", state_dir=state_dir)


@pytest.fixture(scope="module")
def browser(running: Stack) -> Iterator[Browser]:
    yield from open_browser(running.console_url)


def send(stack: Stack, account: str, amount: str) -> str:
    """One card payment of `amount` by `account`, now; returns its transaction id."""
    txn = Transaction(
        transaction_id=str(uuid.uuid4()),
        account_id=account,
        card_id=f"CRD-{account}",
        amount=Decimal(amount),
        currency="EUR",
        merchant_id="MER-CONSOLE",
        merchant_name="Console test shop",
        merchant_category="5411",
        country="FR",
        city="Paris",
        latitude=48.85,
        longitude=2.35,
        channel="POS",
        event_time=int(time.time() * 1000),
    )
    producer = Producer({"bootstrap.servers": stack.kafka})
    producer.produce("transactions", txn.to_json(), account.encode())
    assert producer.flush(30) == 0
    return txn.transaction_id


def _rows_of(browser: Browser) -> list[str]:
    return browser.texts("#alert-rows tr.alert-row")


def test_alerts_page_shows_a_new_alert_live_and_the_filter_narrows_it(
    running: Stack, browser: Browser
) -> None:
    suffix = uuid.uuid4().hex[:6].upper()
    first, second = f"CONSOLE-A-{suffix}", f"CONSOLE-B-{suffix}"
    browser.open("/alerts?since=1h")
    assert browser.find("h1").text == "Alerts"
    send(running, first, "7777.77")
    send(running, second, "8888.88")
    # No reload: the page polls and shows the alerts as the consumer writes them.
    browser.wait_for(
        lambda: (
            any(first in r for r in _rows_of(browser))
            and any(second in r for r in _rows_of(browser))
        ),
        timeout_s=60,
        what="the two alerts never appeared on the live alerts page",
    )
    row = next(r for r in _rows_of(browser) if first in r)
    assert "high_amount" in row and "HIGH" in row and "7777.77" in row
    browser.screenshot("alerts")

    browser.find("#filter-account").send_keys(first)
    browser.follow("#filter-apply")
    browser.wait_for(lambda: "account=" in browser.driver.current_url)
    rows = _rows_of(browser)
    assert rows and all(first in r for r in rows), rows
    assert not any(second in r for r in rows)

    browser.open(f"/alerts?account={first}&rule=velocity")
    assert "No alert matches." in browser.find("#alert-rows").text

    browser.open(f"/alerts?account={first}")
    browser.follow("#alert-rows tr.alert-row a")
    browser.wait_for(lambda: browser.find_all("#payload"))
    text = browser.page_text
    assert "7777.77" in browser.find("#payload").text
    assert "base: the rule's severity HIGH" in text
    assert "Risk score 67" in text  # base 60 + 7 for 7,777.77
    browser.screenshot("alert-detail")

    browser.open("/alerts?rule=no_such_rule")
    error = browser.find("#alert-rows .error").text
    assert "unknown rule 'no_such_rule'" in error and "high_amount" in error
    assert "Traceback" not in browser.page_text


def test_sql_page_runs_a_pull_query_and_streams_a_push_query(
    running: Stack, browser: Browser
) -> None:
    browser.open("/sql")
    browser.find("#sql-text").send_keys(
        "SELECT * FROM MIGRATION_SCHEMA_VERSIONS WHERE VERSION_KEY = 'CURRENT';"
    )
    browser.follow("#sql-run")
    browser.wait_for(lambda: browser.find_all("#result-0 tbody tr"), what="no rows shown")
    headers = browser.texts("#result-0 th")
    cells = browser.texts("#result-0 tbody td")
    row = dict(zip(headers, cells, strict=True))
    versions = len(list((Path(__file__).parents[2] / "ksql").glob("V*.sql")))
    assert row["VERSION_KEY"] == "CURRENT" and row["VERSION"] == str(versions)
    assert row["STATE"] == "MIGRATED"
    browser.screenshot("sql")

    account = f"CONSOLE-P-{uuid.uuid4().hex[:6].upper()}"
    send(running, account, "9999.99")
    browser.open("/sql")
    browser.find("#sql-text").send_keys(
        f"SELECT ACCOUNT_ID, RULE_ID, AMOUNT FROM fraud_alerts WHERE ACCOUNT_ID = '{account}' "
        "EMIT CHANGES;"
    )
    browser.follow("#sql-run")
    browser.wait_for(
        lambda: account in browser.find("#result-0").text, 60, "the push query showed no row"
    )
    assert browser.texts("#result-0 th") == ["ACCOUNT_ID", "RULE_ID", "AMOUNT"]
    query_id = browser.find("#push-status").text.split()[2]
    browser.find("#sql-stop").click()
    browser.wait_for(lambda: "stopped" in browser.find("#push-status").text)
    # Stopped on the ksqlDB server itself, as its own log says.
    server_log = running.state_dir / "ksqldb" / "server.log"
    closed = f"push query {query_id} closed"
    browser.wait_for(
        lambda: closed in server_log.read_text(), what=f"no '{closed}' in {server_log}"
    )

    # Unticked "from the start": only what comes after the query (its alert of 9999.99 is older).
    browser.open("/sql")
    browser.find("#sql-from-start").click()
    browser.find("#sql-text").send_keys(
        f"SELECT ACCOUNT_ID, AMOUNT FROM fraud_alerts WHERE ACCOUNT_ID = '{account}' EMIT CHANGES;"
    )
    browser.follow("#sql-run")
    browser.wait_for(lambda: "running" in browser.find("#push-status").text)
    assert not browser.find("#sql-from-start").is_selected()
    send(running, account, "8888.88")
    browser.wait_for(
        lambda: "8888.88" in browser.find("#result-0").text, 60, "the new alert was not shown"
    )
    assert "9999.99" not in browser.find("#result-0").text
    browser.find("#sql-stop").click()

    # Leaving the page closes the query on the server too.
    browser.find("#sql-text").clear()
    browser.find("#sql-text").send_keys("SELECT * FROM transactions EMIT CHANGES;")
    browser.follow("#sql-run")
    status = browser.wait_for(
        lambda: "running" in browser.find("#push-status").text and browser.find("#push-status")
    )
    query_id = status.text.split()[2]
    browser.open("/alerts")
    closed = f"push query {query_id} closed"
    browser.wait_for(
        lambda: closed in server_log.read_text(), what=f"no '{closed}' in {server_log}"
    )

    # A statement ksqlDB answers with nothing (an INSERT) still says it ran.
    name = f"console_t_{uuid.uuid4().hex[:6]}"
    for statement in (
        f"CREATE STREAM {name} (a VARCHAR) WITH (KAFKA_TOPIC='{name}', PARTITIONS=1, "
        "VALUE_FORMAT='JSON');",
        f"INSERT INTO {name} (a) VALUES ('x');",
    ):
        browser.open("/sql")
        browser.find("#sql-text").send_keys(statement)
        browser.follow("#sql-run")
        browser.wait_for(lambda: browser.find_all(".result-message"), what="no answer shown")
    assert browser.texts(".result-message") == ["ksqlDB ran it and answered with nothing to show"]

    browser.open("/sql")
    browser.find("#sql-text").send_keys("SELECT * FROM no_such_stream;")
    browser.follow("#sql-run")
    error = browser.wait_for(lambda: browser.find_all("#error"))[0].text
    assert "NO_SUCH_STREAM" in error.upper()
    assert "Traceback" not in browser.page_text


def _alert_hits(database_url: str, account: str) -> list[tuple[str, list[dict[str, str]]]]:
    engine = sa.create_engine(database_url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(
                # high_amount's alert only: between 00:00 and 05:00 UTC the same transaction
                # also trips night_high_amount, whose severity is another.
                sa.text(
                    "SELECT severity, blacklist_hits FROM alerts "
                    "WHERE account_id = :a AND rule_id = 'high_amount'"
                ),
                {"a": account},
            )
            return [(r[0], r[1]) for r in rows]
    finally:
        engine.dispose()


def test_blacklist_page_adds_an_entry_the_consumer_then_applies(
    running: Stack, browser: Browser, tmp_path: Path
) -> None:
    account = f"CONSOLE-BL-{uuid.uuid4().hex[:6].upper()}"
    browser.open("/blacklist")
    browser.find("#add-kind").send_keys("account")
    browser.find("#add-value").send_keys(account)
    browser.find("#add-reason").send_keys("card reported stolen")
    browser.follow("#add-submit")
    notice = browser.wait_for(lambda: browser.find_all("#notice"))[0].text
    assert notice == f"blacklisted account {account}"
    assert any(account in r for r in browser.texts("#entries tbody tr"))
    browser.screenshot("blacklist")

    # The consumer reloads the blacklist every 2 s.
    time.sleep(3)
    send(running, account, "6000.00")
    browser.open(f"/alerts?account={account}")
    browser.wait_for(
        lambda: any(f"account:{account}" in r for r in _rows_of(browser)),
        60,
        "the alert never showed the blacklist hit",
    )
    row = _rows_of(browser)[0]
    assert "CRITICAL" in row  # HIGH raised one level by the hit
    assert _alert_hits(running.database_url, account) == [
        ("CRITICAL", [{"kind": "account", "value": account, "reason": "card reported stolen"}])
    ]

    bad = tmp_path / "bad.csv"
    bad.write_text("kind,value\naccount,OK-1\nplanet,Mars\n")
    browser.open("/blacklist")
    browser.find("#import-file").send_keys(str(bad))
    browser.follow("#import-submit")
    error = browser.wait_for(lambda: browser.find_all("#error"))[0].text
    assert error.startswith("bad.csv:3: kind 'planet' is not one of account")
    assert not any("OK-1" in r for r in browser.texts("#entries tbody tr")), "a bad file added rows"

    good = tmp_path / "good.csv"
    good.write_text(f"kind,value,reason\ncountry,kp,sanctions\nmerchant,M-{account},fraud ring\n")
    browser.find("#import-file").send_keys(str(good))
    browser.follow("#import-submit")
    notice = browser.wait_for(lambda: browser.find_all("#notice"))[0].text
    assert notice == "imported 2 entries from good.csv"
    assert any(r.startswith("country KP") for r in browser.texts("#entries tbody tr"))


def test_rules_and_pipeline_pages_show_the_running_pipeline(
    running: Stack, browser: Browser
) -> None:
    browser.open("/rules")
    rules = {e.get_attribute("id") for e in browser.find_all("section.rule")}
    assert {"rule-high_amount", "rule-velocity"} <= rules
    states = browser.texts("#rule-high_amount .migration-state")
    assert states == ["MIGRATED"]
    assert "RUNNING" in browser.find("#rule-high_amount .query-state").text
    assert "high_amount_threshold = 5000.00" in browser.find("#rule-high_amount").text
    assert browser.find_all("#rule-high_amount svg.chart")
    browser.screenshot("rules")

    browser.open("/pipeline")
    health = browser.find("#health").text
    for part in ("kafka", "ksqldb", "postgres", "console", "consumer", "producer"):
        assert part in health
    assert "down" not in health
    topics = browser.find("#topics").text
    assert "transactions" in topics and "fraud_alerts" in topics
    assert "streamguard-alerts" in browser.find("#groups").text
    assert "FRAUD_ALERTS" in browser.find("#streams").text
    browser.screenshot("pipeline")

    browser.follow("#topics a[href='/pipeline/topics/transactions']")
    browser.wait_for(lambda: browser.find_all("#messages tbody tr"))
    shown = browser.find_all("#messages tbody tr")
    assert any("streamguard-scenario=" in r.text for r in shown)  # the producer's header
    value = json.loads(shown[0].find_element("css selector", "pre").text)
    assert {"transaction_id", "account_id", "amount"} <= set(value)
    browser.screenshot("topic")


def _scrape(url: str) -> dict[str, list[tuple[str, dict[str, str], float]]]:
    """Families of a metrics endpoint as Prometheus's text parser reads them: name -> samples."""
    response = httpx.get(url, timeout=10)
    assert response.status_code == 200, f"{url} answered {response.status_code}"
    assert response.headers["content-type"].startswith("text/plain")
    return {
        family.name: [(s.name, s.labels, s.value) for s in family.samples]
        for family in text_string_to_metric_families(response.text)
    }


def _value(samples: list[tuple[str, dict[str, str], float]], name: str, **labels: str) -> float:
    return sum(v for n, ls, v in samples if n == name and labels.items() <= ls.items())


def _endpoints(stack: Stack) -> dict[str, str]:
    return {
        "producer": stack.cli("stack", "address", "producer", "--metrics"),
        "consumer": stack.cli("stack", "address", "consumer", "--metrics"),
        "ksqldb": stack.cli("stack", "address", "ksqldb", "--metrics"),
    }


def test_every_metrics_endpoint_parses_and_counts_what_the_pipeline_did(running: Stack) -> None:
    account = f"CONSOLE-M-{uuid.uuid4().hex[:6].upper()}"
    send(running, account, "5500.00")
    urls = _endpoints(running)

    def consumed() -> float:
        samples = _scrape(urls["consumer"])["streamguard_alerts_consumed"]
        return _value(samples, "streamguard_alerts_consumed_total", rule_id="high_amount")

    deadline = time.monotonic() + 60
    while consumed() < 1 and time.monotonic() < deadline:
        time.sleep(1)
    consumer = _scrape(urls["consumer"])
    assert _value(consumer["streamguard_alerts_consumed"], "streamguard_alerts_consumed_total",
                  rule_id="high_amount", severity="HIGH") >= 1  # fmt: skip
    latency = consumer["streamguard_detection_latency_seconds"]
    assert _value(latency, "streamguard_detection_latency_seconds_count") >= 1
    upserts = consumer["streamguard_batch_upsert_seconds"]
    assert _value(upserts, "streamguard_batch_upsert_seconds_count") >= 1
    lag = consumer["streamguard_consumer_lag"]
    assert any(labels.get("topic") == "fraud_alerts" for _, labels, _ in lag)
    assert "streamguard_dlq_messages" in consumer

    producer = _scrape(urls["producer"])
    assert (
        _value(producer["streamguard_transactions_sent"], "streamguard_transactions_sent_total") > 0
    )
    assert "streamguard_transactions_failed" in producer


DASHBOARD = Path(__file__).parents[2] / "docker" / "grafana" / "dashboards" / "streamguard.json"
_METRIC = re.compile(r"\b((?:streamguard|ksql_emulator)_[a-z0-9_]+)")
_SUFFIX = re.compile(r"_(total|bucket|sum|count|created)$")


def dashboard_metrics() -> dict[str, set[str]]:
    """Each metric family a panel of the Grafana dashboard queries, with the panels' titles."""
    dashboard = json.loads(DASHBOARD.read_text())
    used: dict[str, set[str]] = {}
    for panel in dashboard["panels"]:
        for target in panel["targets"]:
            names = _METRIC.findall(target["expr"])
            assert names, f"{panel['title']}: {target['expr']!r} queries no StreamGuard metric"
            for name in names:
                used.setdefault(_SUFFIX.sub("", name), set()).add(panel["title"])
    return used


def test_the_grafana_dashboard_queries_only_metrics_that_exist(running: Stack) -> None:
    exposed: set[str] = set()
    for url in _endpoints(running).values():
        exposed |= set(_scrape(url))
    used = dashboard_metrics()
    missing = {name: sorted(panels) for name, panels in used.items() if name not in exposed}
    assert not missing, f"the dashboard queries metrics no endpoint exposes: {missing}"
    # Every panel the issue asks for is there.
    assert {"streamguard_transactions_sent", "streamguard_alerts_consumed",
            "streamguard_detection_latency_seconds", "streamguard_consumer_lag",
            "streamguard_dlq_messages", "ksql_emulator_query_records_in",
            "ksql_emulator_query_processing_seconds"} <= set(used)  # fmt: skip
