"""The console's pages over a real PostgreSQL, without a browser: filters, detail, blacklist
forms, and bad input (or a part that is down) answered with a message, never a stack trace."""

from __future__ import annotations

import re
import socket
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from confluent_kafka import Producer
from starlette.testclient import TestClient

from streamguard import blacklist as bl
from streamguard import db
from streamguard.blacklist import BlacklistCache
from streamguard.console import alerts as console_alerts
from streamguard.console.app import ConsoleConfig, create_app
from streamguard.consumer.enrich import enrich
from streamguard.consumer.sink import Source, write_batch
from streamguard.models import Alert, BlacklistKind
from streamguard.settings import Settings
from streamguard.stack.state import StackState
from tests.conftest import ROOT
from tests.consumer.conftest import txn_alert, window_alert

NOWHERE = "http://127.0.0.1:1"  # no ksqlDB answers here


@pytest.fixture
def migrated(database_url: str, db_engine: sa.Engine) -> sa.Engine:
    db.upgrade(database_url)
    return db_engine


def _cells(html: str) -> list[str]:
    """The text of each table cell of `html`, in order."""
    return [
        re.sub(r"<[^>]+>", "", c).strip() for c in re.findall(r"<td[^>]*>(.*?)</td>", html, re.S)
    ]


def _write(engine: sa.Engine, *values: dict[str, object]) -> list[str]:
    cache = BlacklistCache(engine)
    batch = []
    for offset, value in enumerate(values):
        alert = Alert.model_validate(value)
        batch.append((enrich(alert, cache), Source("fraud_alerts", 0, offset), alert.to_json()))
    assert write_batch(engine, batch) == {}
    return [item.alert.alert_id for item, _, _ in batch]


@pytest.fixture
def settings(
    migrated: sa.Engine, database_url: str, kafka_bootstrap: str, tmp_path: Path
) -> Settings:
    return Settings(
        database_url=database_url,
        kafka_bootstrap_servers=kafka_bootstrap,
        ksqldb_url=NOWHERE,
        state_dir=tmp_path / "no-stack",
    )


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    app = create_app(ConsoleConfig(settings=settings, rules_dir=ROOT / "ksql"))
    with TestClient(app, raise_server_exceptions=False) as test_client:
        yield test_client


def _error(html: str) -> str:
    found = re.search(r'class="error"[^>]*>(.*?)</', html, re.DOTALL)
    assert found, "the page shows no error message"
    return found.group(1).replace("&#39;", "'").strip()


def test_alerts_filter_by_rule_severity_account_and_blacklist_hit(
    client: TestClient, migrated: sa.Engine
) -> None:
    bl.add(migrated, [bl.Entry(BlacklistKind.ACCOUNT, "ACC00002", "mule")])
    _write(migrated, txn_alert(1), txn_alert(2), window_alert("ACC00009", 7))

    everything = client.get("/alerts").text
    assert all(a in everything for a in ("ACC00001", "ACC00002", "ACC00009"))
    by_rule = client.get("/alerts/rows", params={"rule": "velocity"}).text
    assert "ACC00009" in by_rule and "ACC00001" not in by_rule
    hit = client.get("/alerts/rows", params={"blacklisted": "yes"}).text
    assert "ACC00002" in hit and "account:ACC00002" in hit and "ACC00001" not in hit
    # The hit raised HIGH to CRITICAL.
    critical = client.get("/alerts/rows", params={"severity": "critical"}).text
    assert "ACC00002" in critical and "ACC00001" not in critical
    account = client.get("/alerts/rows", params={"account": "ACC00001", "since": "15m"}).text
    assert "ACC00001" in account and "ACC00009" not in account
    chart = client.get("/alerts/chart").text
    assert chart.startswith("<svg") and "high_amount" in chart and "velocity" in chart
    # Filtered by a rule, the chart counts that rule's alerts only, as the list shows them.
    one_rule = client.get("/alerts/chart", params={"rule": "velocity"}).text
    assert "velocity" in one_rule and "high_amount" not in one_rule
    assert 'data-src="/alerts/chart?rule=velocity"' in client.get("/alerts?rule=velocity").text
    # A transaction's amount and a window's count and total each in a column of its own, with
    # the transaction's event time.
    cells = _cells(client.get("/alerts/rows", params={"rule": "velocity"}).text)
    assert cells[6:9] == ["", "7", ""], cells
    one = _cells(client.get("/alerts/rows", params={"account": "ACC00001"}).text)
    assert one[1] == "2025-11-23 12:13:20" and one[6:9] == ["5001.25", "", ""], one
    # A full page says how many it leaves out; a limit out of range is refused, not changed.
    page = client.get("/alerts/rows", params={"limit": "1"}).text
    assert page.count('class="alert-row') == 1
    assert "the latest 1 of 3 matching alerts" in page
    assert "matching alerts" not in client.get("/alerts/rows", params={"limit": "3"}).text
    for limit in ("0", "-5", "5000"):
        refused = client.get("/alerts", params={"limit": limit})
        assert refused.status_code == 400
        assert _error(refused.text) == f"limit must be between 1 and 1000, not {limit}"
    # A time of one's own stays chosen in the form (it showed "last 15 minutes"), so that
    # pressing Filter again keeps it.
    custom = client.get("/alerts", params={"since": "2026-01-01T00:00:00Z"}).text
    chosen = re.findall(r'<option value="([^"]*)" selected>', custom)
    assert "2026-01-01T00:00:00Z" in chosen and "15m" not in chosen


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ({"rule": "no_such_rule"}, "unknown rule 'no_such_rule': the rules are amount_velocity"),
        ({"severity": "urgent"}, "unknown severity 'URGENT': one of LOW, MEDIUM, HIGH, CRITICAL"),
        ({"since": "yesterday"}, "time filter: 'yesterday' is not an ISO 8601 time"),
        ({"blacklisted": "maybe"}, "blacklist hit must be yes, no or empty, not 'maybe'"),
        ({"account": "A\x00B"}, "account holds a NUL character"),
    ],
)
def test_a_bad_filter_is_a_message_on_the_page(
    client: TestClient, query: dict[str, str], message: str
) -> None:
    response = client.get("/alerts", params=query)
    assert response.status_code == 400
    assert _error(response.text).startswith(message)
    assert "Traceback" not in response.text


def test_alert_detail_breaks_the_risk_score_down(client: TestClient, migrated: sa.Engine) -> None:
    bl.add(migrated, [bl.Entry(BlacklistKind.COUNTRY, "FR", "test")])
    first, second = _write(
        migrated, txn_alert(7, REASON="one amount above the threshold"), txn_alert(507)
    )  # one account, two alerts
    page = client.get(f"/alerts/{first}").text
    # The rule's reason, and times in UTC to the millisecond, not Python's repr of them.
    assert '<dd class="reason">one amount above the threshold</dd>' in page
    assert "<dt>event time (UTC)</dt><dd>2025-11-23 12:13:20.007</dd>" in page
    # The other alerts under the list's own columns.
    others = page[page.index('id="others"') :]
    assert len(re.findall(r"<th[ >]", others)) - others.count('colspan="2"') == 11
    assert len(_cells(others.split("</tr>")[2])) == 11
    # HIGH base 60, country hit 10, money 5,007.25: 5 points.
    assert "base: the rule&#39;s severity HIGH" in page and "+60" in page
    assert "blacklist hit: country FR" in page and "+10" in page
    assert "money: 5007.25" in page and "+5" in page
    assert "Risk score 75" in page
    assert second in page  # the account's other alert
    missing = client.get("/alerts/high_amount:nope")
    assert missing.status_code == 404
    assert _error(missing.text) == "no alert with id 'high_amount:nope'"


def test_blacklist_forms_validate_as_the_cli_does(client: TestClient, migrated: sa.Engine) -> None:
    added = client.post(
        "/blacklist", data={"action": "add", "kind": "country", "value": "kp", "expires_in": "7d"}
    )
    assert added.status_code == 200 and "blacklisted country KP" in added.text
    again = client.post("/blacklist", data={"action": "add", "kind": "country", "value": "KP"})
    assert "replaced the entry for country KP" in again.text
    assert [(e.kind, e.value) for e in bl.entries(migrated)] == [(BlacklistKind.COUNTRY, "KP")]

    for form, message in [
        ({"kind": "country", "value": "XX"}, "'XX' is not an ISO 3166-1 alpha-2 country code"),
        ({"kind": "planet", "value": "Mars"}, "kind 'planet' is not one of account"),
        ({"kind": "card", "value": "C1", "expires_in": "soon"}, "expiry span 'soon' is not"),
        ({"kind": "card", "value": "C1", "expires_in": "0d"}, "expiry span '0d' ends now"),
        (
            {"kind": "merchant", "value": "M1", "expires": "2020-01-01T00:00:00Z"},
            "expiry 2020-01-01T00:00:00+00:00 has passed: the entry would block nothing",
        ),
        ({"kind": "account", "value": "A" * 201}, "a blacklisted account of 201 characters"),
        ({"kind": "card", "value": ""}, "a blacklisted card needs a value"),
    ]:
        refused = client.post("/blacklist", data={"action": "add", **form})
        assert refused.status_code == 400, form
        assert _error(refused.text).startswith(message)

    bad = b"kind,value\naccount,A1\naccount,A2,\xff\n"
    imported = client.post(
        "/blacklist", data={"action": "import"}, files={"file": ("list.csv", bad, "text/csv")}
    )
    assert _error(imported.text) == "list.csv: not UTF-8 text"
    no_column = client.post(
        "/blacklist",
        data={"action": "import"},
        files={"file": ("x.csv", b"what,value\naccount,A1\n", "text/csv")},
    )
    assert _error(no_column.text) == "x.csv: missing column(s) kind"
    assert len(bl.entries(migrated)) == 1, "a refused file added entries"

    removed = client.post("/blacklist", data={"action": "remove", "kind": "country", "value": "KP"})
    assert "removed country KP" in removed.text and bl.entries(migrated) == []
    again = client.post("/blacklist", data={"action": "remove", "kind": "country", "value": "KP"})
    assert _error(again.text) == "no blacklist entry for country KP"


def test_another_sites_page_cannot_change_anything(client: TestClient, migrated: sa.Engine) -> None:
    form = {"action": "add", "kind": "merchant", "value": "MER-CSRF"}
    for headers in ({"Origin": "http://evil.example"}, {"Referer": "http://evil.example/x"},
                    {"Origin": "null"}, {"Origin": "http://testserver.evil.example"}):  # fmt: skip
        refused = client.post("/blacklist", data=form, headers=headers)
        assert refused.status_code == 403, headers
        assert "came from" in refused.text
    sql = client.post("/sql", data={"sql": "DROP STREAM fraud_alerts;"},
                      headers={"Origin": "http://evil.example"})  # fmt: skip
    assert sql.status_code == 403
    assert bl.entries(migrated) == []
    # Its own pages (the test client's address) may; a link from elsewhere still opens a page.
    own = client.post("/blacklist", data=form, headers={"Origin": "http://testserver"})
    assert own.status_code == 200 and "blacklisted merchant MER-CSRF" in own.text
    followed = client.get("/blacklist", headers={"Referer": "http://evil.example/x"})
    assert followed.status_code == 200


def test_a_nul_character_is_bad_input_not_a_failure(client: TestClient) -> None:
    assert client.get("/alerts/rows", params={"account": "A\x00B"}).status_code == 400
    assert (
        _error(client.get("/alerts/high_amount:x%00y").text)
        == "no alert with id 'high_amount:x\\x00y'"
    )
    topic = client.get("/pipeline/topics/x%00y")
    assert topic.status_code == 404 and _error(topic.text).endswith("not a topic's name")
    added = client.post("/blacklist", data={"action": "add", "kind": "card", "value": "C\x001"})
    assert added.status_code == 400
    assert _error(added.text) == "a blacklisted card's value holds a NUL character"


def test_an_alert_is_not_said_missing_when_postgresql_is_down(settings: Settings) -> None:
    down = settings.model_copy(
        update={"database_url": "postgresql+psycopg2://postgres@127.0.0.1:1/streamguard"}
    )
    app = create_app(ConsoleConfig(settings=down, rules_dir=ROOT / "ksql"))
    with TestClient(app, raise_server_exceptions=False) as client:
        page = client.get("/alerts/high_amount:someone")
        chart = client.get("/alerts/chart").text
        rules = client.get("/rules").text
    assert page.status_code == 503
    assert _error(page.text).startswith("PostgreSQL: ")
    # Counts that could not be read are not shown as none: no fraud is not what happened.
    assert "PostgreSQL: " in chart and "no alerts in this time" not in chart
    assert "unknown: PostgreSQL does not answer" in rules and "no alerts in this time" not in rules


def test_a_ksqldb_that_does_not_answer_holds_a_page_up_only_briefly(settings: Settings) -> None:
    # A socket that takes connections and never answers, as a ksqlDB stuck on its Kafka was.
    with socket.create_server(("127.0.0.1", 0)) as silent:
        url = f"http://127.0.0.1:{silent.getsockname()[1]}"
        stuck = settings.model_copy(update={"ksqldb_url": url})
        config = ConsoleConfig(settings=stuck, rules_dir=ROOT / "ksql", view_timeout_s=0.5)
        with TestClient(create_app(config), raise_server_exceptions=False) as client:
            rules = client.get("/rules")
            pipeline = client.get("/pipeline")
    assert rules.status_code == 200 and "high_amount" in rules.text
    assert f"ksqlDB at {url} did not answer in time" in rules.text
    assert "did not answer in time" in pipeline.text


def test_the_alerts_page_says_what_keeps_alerts_from_it(
    settings: Settings, kafka_bootstrap: str
) -> None:
    dlq = f"dlq-{uuid.uuid4().hex[:8]}"
    producer = Producer({"bootstrap.servers": kafka_bootstrap})
    for n in range(2):
        producer.produce(dlq, value=b"{}", headers={"streamguard-dlq-reason": f"bad {n}"})
    assert producer.flush(30) == 0
    # A local stack whose consumer was started and is gone (its pid no longer runs).
    state = StackState(settings.state_dir)
    state.part("consumer").intent = "run"
    state.part("consumer").pid = 2**22 + 1
    state.save()
    config = ConsoleConfig(
        settings=settings.model_copy(update={"dlq_topic": dlq}), rules_dir=ROOT / "ksql"
    )
    with TestClient(create_app(config), raise_server_exceptions=False) as client:
        page = client.get("/alerts").text
    warnings = [
        re.sub(r"<[^>]+>", "", w)
        for w in re.findall(r'class="error alert-warning"[^>]*>(.*?)</p>', page)
    ]
    assert warnings == [
        "the consumer has died: new alerts are not written to PostgreSQL (./start.sh starts it "
        "again)",
        f"2 message(s) in the dead-letter topic {dlq}: alerts the consumer could not write, each "
        "with its reason",
    ]
    assert f'href="/pipeline/topics/{dlq}"' in page


def test_pages_say_what_is_down_instead_of_failing(client: TestClient) -> None:
    rules = client.get("/rules")
    assert rules.status_code == 200
    assert "high_amount_threshold = 5000.00" in rules.text
    assert "cannot reach ksqlDB at http://127.0.0.1:1" in rules.text

    pipeline = client.get("/pipeline")
    assert pipeline.status_code == 200
    assert re.search(r"<td>ksqldb</td><td>[^<]*</td><td class=\"bad\">down", pipeline.text)
    assert "fraud_alerts" in pipeline.text or "<h2>Topics</h2>" in pipeline.text

    sql = client.post("/sql", data={"sql": "SHOW STREAMS;"})
    assert sql.status_code == 503 and "cannot reach ksqlDB" in _error(sql.text)
    empty = client.post("/sql", data={"sql": "  -- nothing\n"})
    assert _error(empty.text).startswith("there is no statement to run")
    two = client.post("/sql", data={"sql": "SELECT 1 FROM a; SELECT 2 FROM b;"})
    assert _error(two.text) == "run one query at a time: the text holds more than one"


def test_an_unexpected_failure_is_a_page_not_a_stack_trace(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*_args: object) -> list[str]:
        raise RuntimeError("the disk is on fire")

    monkeypatch.setattr(console_alerts, "rule_ids", broken)
    response = client.get("/alerts")
    assert response.status_code == 500
    assert _error(response.text) == (
        "the console could not show this page: RuntimeError: the disk is on fire"
    )
    assert "Traceback" not in response.text and 'File "' not in response.text


def test_grafana_is_linked_and_backtest_figures_shown_when_configured(
    client: TestClient, settings: Settings, tmp_path: Path
) -> None:
    assert "grafana-link" not in client.get("/alerts").text
    report = tmp_path / "backtest.json"
    report.write_text(
        '{"rules": [{"rule_id": "velocity", "precision": 0.93, "recall": 0.88, "alerts": 41}]}'
    )
    config = ConsoleConfig(
        settings=settings,
        rules_dir=ROOT / "ksql",
        grafana_url="http://localhost:3000/d/streamguard/streamguard",
        backtest_report=report,
    )
    with TestClient(create_app(config)) as configured:
        page = configured.get("/alerts").text
        assert 'href="http://localhost:3000/d/streamguard/streamguard"' in page
        rules = configured.get("/rules").text
    velocity = rules[rules.index('id="rule-velocity"') :]
    velocity = velocity[: velocity.index("</section>")]
    assert "precision: <b>93.0%</b>" in velocity and "recall: <b>88.0%</b>" in velocity
    assert "alerts: <b>41</b>" in velocity
    assert "latest backtest" not in rules[: rules.index('id="rule-velocity"')]
