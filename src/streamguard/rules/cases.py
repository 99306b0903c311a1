"""Rule test cases: example transactions and the alerts expected of them, as TOML files.

One file per rule, named after the rule's migration (`rule_velocity.toml` tests
`ksql/V000004__rule_velocity.sql`):

    date = "2026-01-05"                 # the day that "HH:MM:SS" times fall on

    [defaults]                          # every transaction's fields unless it says otherwise
    country = "DE"

    [[case]]
    name = "six transactions in one minute"
    transactions = [
      { account_id = "ACC1", amount = "12.50", event_time = "10:00:05" },
      ...
    ]
    alerts = [
      { rule_id = "velocity", account_id = "ACC1", txn_count = 5 },
      ...
    ]

A transaction names only what matters to the case; the rest comes from `[defaults]` and then
from a plain everyday card payment, and the whole is validated as the producer's transactions
are. An expected alert names only the fields the case is about; the alerts written must match
them one for one, in order, and be no more.
"""

from __future__ import annotations

import datetime as dt
import tomllib
import uuid
from datetime import UTC, datetime, time
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from streamguard.models import Alert, Transaction
from streamguard.times import parse_time

# A plain card payment: what a case's transaction is unless it or the file says otherwise.
BASE_TRANSACTION: dict[str, Any] = {
    "card_id": "CRD-TEST-1",
    "amount": "25.00",
    "currency": "EUR",
    "merchant_id": "MER-TEST-1",
    "merchant_name": "Test Grocery",
    "merchant_category": "5411",
    "country": "DE",
    "city": "Berlin",
    "latitude": 52.52,
    "longitude": 13.405,
    "channel": "POS",
}
# Compared as what they mean, whichever way a case file or ksqlDB's JSON writes them.
TIME_FIELDS = frozenset({"event_time", "window_start", "window_end"})
AMOUNT_FIELDS = frozenset({"amount", "total_amount"})
ALERT_FIELDS = frozenset(Alert.model_fields) | {"country_count", "reason"}
_NAMESPACE = uuid.UUID("6f1c3f0e-3f61-4a55-9a53-3f1d2b7f6a10")


class CaseFileError(Exception):
    """A case file that cannot be read, naming the file and what is wrong in it."""


class Case(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1)
    transactions: list[dict[str, Any]] = Field(min_length=1)
    alerts: list[dict[str, Any]] = Field(default_factory=list)

    @field_validator("alerts")
    @classmethod
    def _known_alert_fields(cls, alerts: list[dict[str, Any]]) -> list[dict[str, Any]]:
        for index, alert in enumerate(alerts, 1):
            unknown = sorted(set(alert) - ALERT_FIELDS)
            if unknown:
                raise ValueError(
                    f"alert {index} names unknown field(s) {', '.join(unknown)}; an alert has "
                    f"{', '.join(sorted(ALERT_FIELDS))}"
                )
        return alerts


class CaseFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    date: dt.date = dt.date(2026, 1, 5)
    defaults: dict[str, Any] = Field(default_factory=dict)
    case: list[Case] = Field(min_length=1)


class RuleCases:
    """The cases of one rule file, their transactions made whole and validated."""

    def __init__(self, path: Path, data: CaseFile) -> None:
        self.path = path
        self.rule = path.stem
        self.date = data.date
        self.cases = data.case
        self._defaults = data.defaults

    def transactions(self, case: Case) -> list[Transaction]:
        made = []
        for index, fields in enumerate(case.transactions, 1):
            whole = BASE_TRANSACTION | self._defaults | fields
            whole.setdefault(
                "transaction_id", str(uuid.uuid5(_NAMESPACE, f"{self.rule}/{case.name}/{index}"))
            )
            if "event_time" not in whole:
                raise self._error(case, f"transaction {index} has no event_time")
            try:
                whole["event_time"] = self.epoch_ms(whole["event_time"])
                made.append(Transaction.model_validate(whole))
            except (ValueError, ValidationError) as exc:
                raise self._error(case, f"transaction {index}: {_described(exc)}") from None
        return made

    def expected(self, case: Case) -> list[dict[str, Any]]:
        """The case's alerts with times as epoch ms and amounts as decimals."""
        out = []
        for index, alert in enumerate(case.alerts, 1):
            try:
                out.append({name: self._normal(name, value) for name, value in alert.items()})
            except ValueError as exc:
                raise self._error(case, f"alert {index}: {exc}") from None
        return out

    def _normal(self, name: str, value: Any) -> Any:
        if value is None:
            return None
        if name in TIME_FIELDS:
            return self.epoch_ms(value)
        if name in AMOUNT_FIELDS:
            try:
                return Decimal(str(value))
            except InvalidOperation:
                raise ValueError(f"{name} {value!r} is not a number") from None
        return value

    def epoch_ms(self, value: Any) -> int:
        """Epoch ms from an int, an ISO date-time, or "HH:MM[:SS]" on the file's date (UTC)."""
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if isinstance(value, datetime):
            moment = value if value.tzinfo else value.replace(tzinfo=UTC)
        elif isinstance(value, time):
            moment = datetime.combine(self.date, value, tzinfo=UTC)
        elif isinstance(value, str):
            moment = self._parse_time(value)
        else:
            raise ValueError(f"{value!r} is not a time")
        return int(moment.timestamp() * 1000)

    def _parse_time(self, text: str) -> datetime:
        try:
            if "T" in text or " " in text.strip():
                return parse_time(text)
            return datetime.combine(self.date, time.fromisoformat(text), tzinfo=UTC)
        except ValueError:
            raise ValueError(
                f"{text!r} is not a time: use HH:MM:SS (on the file's date) or an ISO "
                "date-time such as 2026-01-05T10:00:00Z"
            ) from None

    def _error(self, case: Case, message: str) -> CaseFileError:
        return CaseFileError(f"{self.path}: case {case.name!r}: {message}")


def load(path: Path) -> RuleCases:
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise CaseFileError(f"{path}: cannot read: {exc.strerror}") from None
    except tomllib.TOMLDecodeError as exc:
        raise CaseFileError(f"{path}: not valid TOML: {exc}") from None
    try:
        return RuleCases(path, CaseFile.model_validate(raw))
    except ValidationError as exc:
        raise CaseFileError(f"{path}: {_described(exc)}") from None


def _described(exc: ValueError | ValidationError) -> str:
    """Every problem pydantic found, each with where it is; a plain error as it is."""
    if isinstance(exc, ValidationError):
        problems = []
        for error in exc.errors():
            where = ".".join(str(part) for part in error["loc"])
            problems.append(f"{where}: {error['msg']}" if where else error["msg"])
        return "; ".join(problems)
    return str(exc)
