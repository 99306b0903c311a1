"""The message contracts: a card transaction and a fraud alert, as the topics carry them."""

from __future__ import annotations

import enum
import json
import re
import uuid
from decimal import Decimal
from typing import Annotated, Any, Literal, Self

import pycountry
from pydantic import (
    AfterValidator,
    AliasChoices,
    BaseModel,
    ConfigDict,
    Field,
    PlainSerializer,
    ValidationError,
    model_validator,
)

# Epoch milliseconds between 2000-01-01 and 2100-01-01: anything outside is a unit mistake
# (seconds or microseconds) rather than a real card event.
_MIN_EPOCH_MS = 946_684_800_000
_MAX_EPOCH_MS = 4_102_444_800_000


def _epoch_ms(value: int) -> int:
    if not _MIN_EPOCH_MS <= value < _MAX_EPOCH_MS:
        raise ValueError(
            f"{value} is not an epoch-millisecond time between 2000 and 2100 "
            "(seconds or microseconds given by mistake?)"
        )
    return value


def _currency(value: str) -> str:
    if pycountry.currencies.get(alpha_3=value) is None:
        raise ValueError(f"{value!r} is not an ISO 4217 currency code")
    return value


def _country(value: str) -> str:
    if len(value) != 2 or pycountry.countries.get(alpha_2=value) is None:
        raise ValueError(f"{value!r} is not an ISO 3166-1 alpha-2 country code")
    return value


# A UUID already in its canonical form (lower-case hex, hyphenated) is returned as it is:
# ksqlDB passes the producer's ids through unchanged, so nearly every id takes this path.
_CANONICAL_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def _uuid_string(value: str) -> str:
    if _CANONICAL_UUID.fullmatch(value):
        return value
    try:
        return str(uuid.UUID(value))
    except ValueError:
        raise ValueError(f"{value!r} is not a UUID") from None


def _money(value: Decimal) -> Decimal:
    if value.as_tuple().exponent < -2:  # type: ignore[operator]
        raise ValueError(f"{value} has more than two decimals")
    return value


# Money goes on the wire as a JSON number, as ksqlDB's DECIMAL(12,2) reads and writes it.
Money = Annotated[
    Decimal,
    Field(max_digits=12, decimal_places=2),
    AfterValidator(_money),
    PlainSerializer(float, return_type=float, when_used="json"),
]
EpochMillis = Annotated[int, AfterValidator(_epoch_ms)]
CurrencyCode = Annotated[str, Field(min_length=3, max_length=3), AfterValidator(_currency)]
CountryCode = Annotated[str, AfterValidator(_country)]
UuidString = Annotated[str, AfterValidator(_uuid_string)]
Identifier = Annotated[str, Field(min_length=1, max_length=64)]


class BlacklistKind(enum.StrEnum):
    """What a blacklist entry blocks, and so what an alert's blacklist hit names."""

    ACCOUNT = "account"
    CARD = "card"
    MERCHANT = "merchant"
    COUNTRY = "country"


class Channel(enum.StrEnum):
    POS = "POS"
    ONLINE = "ONLINE"
    ATM = "ATM"


class Transaction(BaseModel):
    """One card transaction on topic `transactions`, keyed by `account_id`."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    transaction_id: UuidString
    account_id: Identifier
    card_id: Identifier
    amount: Annotated[Money, Field(gt=0)]
    currency: CurrencyCode
    merchant_id: Identifier
    merchant_name: str
    merchant_category: Annotated[str, Field(pattern=r"^[0-9]{4}$", description="ISO 18245 MCC")]
    country: CountryCode
    city: str
    latitude: Annotated[float, Field(ge=-90, le=90)]
    longitude: Annotated[float, Field(ge=-180, le=180)]
    channel: Channel
    event_time: EpochMillis

    def to_json(self) -> bytes:
        """The message value as the `transactions` topic carries it."""
        return self.model_dump_json().encode()

    @classmethod
    def from_json(cls, data: bytes | str) -> Transaction:
        return cls.model_validate_json(data)


class Severity(enum.StrEnum):
    LOW = "LOW"
    MEDIUM = "MEDIUM"
    HIGH = "HIGH"
    CRITICAL = "CRITICAL"

    def raised(self, steps: int = 1) -> Severity:
        """This severity raised by `steps` levels, capped at CRITICAL."""
        if steps == 0:
            return self
        order = _SEVERITY_ORDER
        return order[min(order.index(self) + steps, len(order) - 1)]


# Iterating an Enum class runs Python code each time; the consumer raises every alert's severity.
_SEVERITY_ORDER: tuple[Severity, ...] = tuple(Severity)


def _wire(name: str) -> Any:
    """A field read under ksqlDB's upper-case JSON name or our own lower-case one."""
    return Field(validation_alias=AliasChoices(name.upper(), name))


def _wire_optional(name: str) -> Any:
    return Field(default=None, validation_alias=AliasChoices(name.upper(), name))


class Alert(BaseModel):
    """One alert on topic `fraud_alerts`, as every rule writes it.

    ksqlDB names the JSON fields after its upper-cased column names (`RULE_ID`), so the model
    reads field names case-insensitively and writes them upper-cased, as ksqlDB does. The
    upper- and lower-case names are read in pydantic's own JSON parser, in one pass; any other
    spelling (`Rule_Id`) takes a slower second pass (`from_json`).
    """

    model_config = ConfigDict(frozen=True, extra="allow", populate_by_name=True)

    rule_id: Identifier = _wire("rule_id")
    severity: Severity = _wire("severity")
    account_id: Identifier = _wire("account_id")
    transaction_id: UuidString | None = _wire_optional("transaction_id")
    card_id: str | None = _wire_optional("card_id")
    amount: Money | None = _wire_optional("amount")
    txn_count: Annotated[int, Field(ge=0)] | None = _wire_optional("txn_count")
    total_amount: Money | None = _wire_optional("total_amount")
    window_start: EpochMillis | None = _wire_optional("window_start")
    window_end: EpochMillis | None = _wire_optional("window_end")
    merchant_id: str | None = _wire_optional("merchant_id")
    country: str | None = _wire_optional("country")
    event_time: EpochMillis | None = _wire_optional("event_time")

    @model_validator(mode="after")
    def _has_identity(self) -> Self:
        if self.transaction_id is None and self.window_start is None:
            raise ValueError(
                "an alert needs TRANSACTION_ID (per-transaction rule) or WINDOW_START (window rule)"
            )
        if (
            self.window_start is not None
            and self.window_end is not None
            and self.window_end < self.window_start
        ):
            raise ValueError("WINDOW_END is before WINDOW_START")
        return self

    @property
    def kind(self) -> Literal["transaction", "window"]:
        return "transaction" if self.transaction_id is not None else "window"

    @property
    def alert_id(self) -> str:
        """The alert's identity (DESIGN.md): a replayed or updated alert keeps its id."""
        if self.transaction_id is not None:
            return f"{self.rule_id}:{self.transaction_id}"
        return f"{self.rule_id}:{self.account_id}:{self.window_start}"

    def to_json(self) -> bytes:
        """The message value as ksqlDB writes it to `fraud_alerts`: upper-case field names."""
        data = self.model_dump(mode="json", exclude_none=True)
        return _dumps({k.upper(): v for k, v in data.items()})

    @classmethod
    def from_json(cls, data: bytes | str) -> Alert:
        """The alert a message value holds; its field names in any case.

        Raises pydantic's ValidationError naming what is wrong (invalid JSON included)."""
        try:
            return cls.model_validate_json(data)
        except ValidationError as error:
            first = error
        try:
            parsed = json.loads(data)
        except ValueError:
            raise first from None
        if not isinstance(parsed, dict):
            raise first
        lowered = {str(k).lower(): v for k, v in parsed.items()}
        if lowered == parsed:
            raise first  # no other spelling to try: this is what is wrong
        return cls.model_validate(lowered)


def _dumps(data: dict[str, Any]) -> bytes:
    return json.dumps(data, separators=(",", ":")).encode()
