"""The message contracts reject what is wrong and carry what is right, as the topics do."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import pytest
from pydantic import ValidationError

from streamguard.models import Alert, Severity, Transaction

GOOD: dict[str, Any] = {
    "transaction_id": "6f1c1f0e-8a3c-4c57-9f0e-2b2b8d1e8a11",
    "account_id": "ACC00042",
    "card_id": "CARD000042",
    "amount": 129.99,
    "currency": "EUR",
    "merchant_id": "M0007",
    "merchant_name": "Boulangerie Paul",
    "merchant_category": "5462",
    "country": "FR",
    "city": "Lyon",
    "latitude": 45.764,
    "longitude": 4.8357,
    "channel": "POS",
    "event_time": 1_763_900_000_000,
}


def test_transaction_json_round_trip_keeps_amount_as_a_two_decimal_number() -> None:
    txn = Transaction.model_validate(GOOD)
    assert txn.amount == Decimal("129.99")
    wire = json.loads(txn.to_json())
    assert wire["amount"] == 129.99
    assert Transaction.from_json(txn.to_json()) == txn


@pytest.mark.parametrize(
    ("field", "value", "complaint"),
    [
        ("amount", 0, "greater than 0"),
        ("amount", -5, "greater than 0"),
        ("amount", 10.999, "decimal"),
        ("currency", "EURO", "at most 3"),
        ("currency", "XYZ", "ISO 4217"),
        ("country", "XX", "ISO 3166"),
        ("country", "FRA", "ISO 3166"),
        ("transaction_id", "not-a-uuid", "UUID"),
        ("event_time", 1_763_900_000, "epoch-millisecond"),
        ("channel", "PHONE", "POS"),
        ("merchant_category", "54", "pattern"),
        ("latitude", 91.0, "less than or equal"),
    ],
)
def test_transaction_rejects_bad_fields_by_name(field: str, value: Any, complaint: str) -> None:
    with pytest.raises(ValidationError) as error:
        Transaction.model_validate({**GOOD, field: value})
    assert field in str(error.value)
    assert complaint in str(error.value)


def test_transaction_rejects_unknown_fields() -> None:
    with pytest.raises(ValidationError, match="scenario"):
        Transaction.model_validate({**GOOD, "scenario": "velocity"})


def test_alert_reads_ksqldb_upper_case_json_and_writes_it_back() -> None:
    wire = (
        b'{"RULE_ID":"velocity","SEVERITY":"HIGH","ACCOUNT_ID":"ACC1","TXN_COUNT":7,'
        b'"WINDOW_START":1763900000000,"WINDOW_END":1763900060000,"TRANSACTION_ID":null}'
    )
    alert = Alert.from_json(wire)
    assert alert.kind == "window"
    assert alert.txn_count == 7
    assert alert.alert_id == "velocity:ACC1:1763900000000"
    assert json.loads(alert.to_json())["RULE_ID"] == "velocity"
    assert Alert.from_json(alert.to_json()) == alert


def test_alert_identity_of_a_transaction_rule_ignores_updates() -> None:
    base = {
        "rule_id": "high_amount",
        "severity": "HIGH",
        "account_id": "A",
        "transaction_id": GOOD["transaction_id"],
        "amount": 9000,
    }
    first, replay = Alert.model_validate(base), Alert.model_validate({**base, "amount": 9000.0})
    assert first.alert_id == replay.alert_id == f"high_amount:{GOOD['transaction_id']}"


def test_alert_without_identity_is_rejected() -> None:
    with pytest.raises(ValidationError, match="TRANSACTION_ID"):
        Alert.model_validate({"rule_id": "r", "severity": "LOW", "account_id": "A"})


def test_severity_raises_and_caps() -> None:
    assert Severity.LOW.raised() is Severity.MEDIUM
    assert Severity.HIGH.raised(5) is Severity.CRITICAL


def test_alert_field_names_are_read_in_any_case() -> None:
    upper = Alert.from_json(
        b'{"RULE_ID":"velocity","SEVERITY":"HIGH","ACCOUNT_ID":"A","WINDOW_START":1763900000000}'
    )
    lower = Alert.from_json(
        b'{"rule_id":"velocity","severity":"HIGH","account_id":"A","window_start":1763900000000}'
    )
    mixed = Alert.from_json(
        b'{"Rule_Id":"velocity","Severity":"HIGH","Account_Id":"A","Window_Start":1763900000000}'
    )
    assert upper == lower == mixed
    assert mixed.alert_id == "velocity:A:1763900000000"


@pytest.mark.parametrize(
    ("wire", "complaint"),
    [
        (b'{"RULE_ID": "r", "SEVERITY": "LOW"', "Invalid JSON"),
        (b'["RULE_ID"]', "object"),
        (b'{"Rule_Id":"r","Severity":"LOW","Account_Id":"A","Transaction_Id":"x"}', "UUID"),
        (b'{"RULE_ID":"r","SEVERITY":"NONE","ACCOUNT_ID":"A","WINDOW_START":1763900000000}', "LOW"),
    ],
)
def test_a_bad_alert_says_what_is_wrong_whatever_the_case_of_its_names(
    wire: bytes, complaint: str
) -> None:
    with pytest.raises(ValidationError, match=complaint):
        Alert.from_json(wire)


def test_a_canonical_transaction_id_is_kept_and_another_spelling_normalised() -> None:
    tid = "0e3f4a52-6d1c-4b8e-9a4e-2f5b7c9d1e3a"
    base = {"rule_id": "r", "severity": "LOW", "account_id": "A"}
    assert Alert.model_validate({**base, "transaction_id": tid}).transaction_id == tid
    braced = "{" + tid.upper() + "}"
    assert Alert.model_validate({**base, "transaction_id": braced}).transaction_id == tid
