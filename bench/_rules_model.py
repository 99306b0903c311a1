"""What the six rules of ksql/ should alert on for a traffic the bench sent, in plain Python.

The pipeline bench needs two facts the engine cannot give it: which alert rows a finished run
must hold (to know when it has finished), and which transaction made each window alert (its
latency starts there). ksqlDB's own test runner gives the first but is far too slow for
hundreds of thousands of transactions, and neither gives the second. This model follows the
rules' SQL with the thresholds of `Limits` (the DEFINEs' defaults, kept in one place), and the
bench reports every alert the engine wrote that the model did not expect, and the reverse, so a
rule change the model does not know of shows up as a difference instead of a wrong figure.

- per-transaction rules (`high_amount`, `night_high_amount`): one alert per matching
  transaction, identified by its transaction id;
- window rules: one alert per (rule, account, window start) once the window's aggregate passes
  the threshold; the transaction that made it pass is the alert's *crossing* transaction, and
  the alert's final counts are the window's final aggregate (each later update still passes,
  since counts, sums and distinct counts only grow).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from streamguard.producer.scenarios import Limits

DAY_MS = 86_400_000
HOUR_MS = 3_600_000

PER_TRANSACTION = ("high_amount", "night_high_amount")
WINDOWED = ("velocity", "amount_velocity", "geo_spread", "card_testing")


@dataclass
class Expected:
    """One alert the rules should write: its identity, its final counts and its crossing."""

    alert_id: str
    rule_id: str
    account_id: str
    # The sequence number (in send order) of the transaction that caused the alert.
    crossing: int
    txn_count: int | None = None

    @property
    def kind(self) -> str:
        return "transaction" if self.rule_id in PER_TRANSACTION else "window"


@dataclass
class _Window:
    count: int = 0
    cents: int = 0
    countries: set[str] = field(default_factory=set)
    account: str = ""
    alert: Expected | None = None


class RulesModel:
    """Feed it every transaction in send order; `expected` holds the alerts due so far."""

    def __init__(self, limits: Limits | None = None) -> None:
        self.limits = limits or Limits()
        lim = self.limits
        self._high = int(lim.high_amount * 100)
        self._night = int(lim.night_amount * 100)
        self._night_end = lim.night_end_hour * HOUR_MS
        self._total = int(lim.amount_velocity_total * 100)
        self._small = int(lim.card_testing_amount * 100)
        self.expected: dict[str, Expected] = {}
        self._windows: dict[tuple[str, str, int], _Window] = {}

    def feed(self, sequence: int, value: bytes) -> None:
        txn: dict[str, Any] = json.loads(value)
        cents = round(txn["amount"] * 100)
        account, event_time = txn["account_id"], txn["event_time"]
        if cents > self._high:
            self._alert("high_amount", txn, sequence)
        if cents > self._night and event_time % DAY_MS < self._night_end:
            self._alert("night_high_amount", txn, sequence)
        lim = self.limits
        self._window(
            "velocity", account, account, event_time, lim.velocity_window_ms, txn, sequence,
            lambda w: w.count >= lim.velocity_count,
        )  # fmt: skip
        self._window(
            "amount_velocity", account, account, event_time, lim.amount_velocity_window_ms, txn,
            sequence, lambda w: w.cents > self._total,
        )  # fmt: skip
        self._window(
            "geo_spread", account, account, event_time, lim.geo_window_ms, txn, sequence,
            lambda w: len(w.countries) >= lim.geo_countries,
        )  # fmt: skip
        if cents < self._small:
            self._window(
                "card_testing", txn["card_id"], account, event_time, lim.card_testing_window_ms,
                txn, sequence, lambda w: w.count >= lim.card_testing_count,
            )  # fmt: skip

    def _alert(self, rule: str, txn: dict[str, Any], sequence: int) -> None:
        alert_id = f"{rule}:{txn['transaction_id']}"
        self.expected[alert_id] = Expected(alert_id, rule, txn["account_id"], sequence)

    def _window(
        self,
        rule: str,
        key: str,
        account: str,
        event_time: int,
        size_ms: int,
        txn: dict[str, Any],
        sequence: int,
        passes: Any,
    ) -> None:
        start = event_time - event_time % size_ms
        window = self._windows.setdefault((rule, key, start), _Window())
        window.count += 1
        window.cents += round(txn["amount"] * 100)
        window.countries.add(txn["country"])
        window.account = account
        if window.alert is not None:
            window.alert.txn_count = window.count
        elif passes(window):
            alert_id = f"{rule}:{account}:{start}"
            window.alert = Expected(alert_id, rule, account, sequence, window.count)
            self.expected[alert_id] = window.alert
