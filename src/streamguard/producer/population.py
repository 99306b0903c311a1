"""A seeded population of accounts, cards and merchants, the same for the same seed."""

from __future__ import annotations

import random
from dataclasses import dataclass
from decimal import Decimal

from faker import Faker

# Countries whose cities Faker can place, with the currency a card there is charged in.
CURRENCY_OF: dict[str, str] = {
    "US": "USD", "GB": "GBP", "DE": "EUR", "FR": "EUR", "IT": "EUR", "ES": "EUR", "NL": "EUR",
    "BE": "EUR", "PT": "EUR", "CZ": "CZK", "PL": "PLN", "JP": "JPY", "IN": "INR", "BR": "BRL",
    "MX": "MXN", "CA": "CAD", "AU": "AUD", "KR": "KRW", "AR": "ARS", "TR": "TRY",
}  # fmt: skip

# ISO 18245 merchant category codes with how the card is usually present there.
MERCHANT_CATEGORIES: tuple[tuple[str, str, str], ...] = (
    ("5411", "Grocery", "POS"),
    ("5812", "Restaurant", "POS"),
    ("5814", "Fast Food", "POS"),
    ("5541", "Fuel", "POS"),
    ("5311", "Department Store", "POS"),
    ("5912", "Pharmacy", "POS"),
    ("4111", "Transit", "POS"),
    ("5732", "Electronics", "ONLINE"),
    ("5942", "Books", "ONLINE"),
    ("4511", "Airline", "ONLINE"),
    ("7011", "Hotel", "ONLINE"),
    ("5999", "Marketplace", "ONLINE"),
    ("6011", "Cash Withdrawal", "ATM"),
)


@dataclass(frozen=True)
class Merchant:
    merchant_id: str
    name: str
    category: str
    channel: str
    country: str
    city: str
    latitude: float
    longitude: float


@dataclass(frozen=True)
class Account:
    account_id: str
    home_country: str
    currency: str
    typical_spend: Decimal
    cards: tuple[str, ...]


@dataclass(frozen=True)
class Population:
    """Who transacts where.

    Normal traffic uses `accounts`, and so does fraud: a taken-over card or a compromised
    account is one of them, so nothing in an id tells fraud from normal traffic. The blacklist
    holds mule accounts (`blacklisted_accounts`, ordinary ids that normal traffic never uses)
    and merchants under investigation (`blacklisted_merchants`, ordinary ids outside the
    merchants normal traffic pays); the blacklisted scenario uses them.
    """

    accounts: tuple[Account, ...]
    blacklisted_accounts: tuple[Account, ...]
    merchants_by_country: dict[str, tuple[Merchant, ...]]
    blacklisted_merchants: tuple[Merchant, ...]

    @classmethod
    def build(
        cls,
        seed: int,
        *,
        accounts: int = 2000,
        blacklisted_accounts: int = 200,
        merchants_per_country: int = 12,
    ) -> Population:
        faker = Faker()
        faker.seed_instance(seed)
        rng = random.Random(seed)
        countries = sorted(CURRENCY_OF)
        merchants: dict[str, list[Merchant]] = {c: [] for c in countries}
        serial = 0
        for country in countries:
            for _ in range(merchants_per_country):
                serial += 1
                merchants[country].append(_merchant(faker, rng, serial, country))
        blacklisted_merchants = tuple(
            _merchant(faker, rng, serial + 1 + i, rng.choice(countries)) for i in range(10)
        )
        # Account numbers are drawn, mules' first, so that a mule's id looks like anyone else's
        # and the blacklist a seed makes is the same whatever the number of accounts.
        ids = _account_ids(seed, blacklisted_accounts + accounts)
        blacklisted = tuple(_account(rng, countries, i) for i in ids[:blacklisted_accounts])
        regular = tuple(_account(rng, countries, i) for i in ids[blacklisted_accounts:])
        return cls(
            accounts=regular,
            blacklisted_accounts=blacklisted,
            merchants_by_country={c: tuple(m) for c, m in merchants.items()},
            blacklisted_merchants=blacklisted_merchants,
        )

    def blacklist_rows(self) -> list[dict[str, str]]:
        """The population's blacklisted accounts and merchants, as `blacklist import` reads them."""
        rows = [
            {"kind": "account", "value": a.account_id, "reason": "known mule account"}
            for a in self.blacklisted_accounts
        ]
        rows += [
            {"kind": "merchant", "value": m.merchant_id, "reason": "merchant under investigation"}
            for m in self.blacklisted_merchants
        ]
        return rows


def _account_ids(seed: int, count: int) -> list[str]:
    """`count` distinct account numbers (ACC and 8 digits), the same for the same seed."""
    rng = random.Random(f"account-ids/{seed}")
    seen: set[int] = set()
    out: list[str] = []
    while len(out) < count:
        number = rng.randrange(10**8)
        if number not in seen:
            seen.add(number)
            out.append(f"ACC{number:08d}")
    return out


def _merchant(faker: Faker, rng: random.Random, serial: int, country: str) -> Merchant:
    category, label, channel = rng.choice(MERCHANT_CATEGORIES)
    place = faker.local_latlng(country_code=country)
    if place is None:
        raise ValueError(f"Faker knows no city in {country}")
    latitude, longitude, city, _, _ = place
    return Merchant(
        merchant_id=f"MER{serial:06d}",
        name=f"{faker.company()} {label}",
        category=category,
        channel=channel,
        country=country,
        city=city,
        latitude=round(float(latitude), 5),
        longitude=round(float(longitude), 5),
    )


def _account(rng: random.Random, countries: list[str], account_id: str) -> Account:
    country = rng.choice(countries)
    cards = tuple(f"CRD{account_id[3:]}{n}" for n in range(rng.choice((1, 1, 2))))
    return Account(
        account_id=account_id,
        home_country=country,
        currency=CURRENCY_OF[country],
        typical_spend=Decimal(rng.randint(20, 150)),
        cards=cards,
    )
