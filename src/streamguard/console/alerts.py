"""The alerts the console shows: filtered lists, one alert's detail and risk breakdown, rates."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import sqlalchemy as sa

from streamguard.consumer.enrich import HIT_WEIGHT, SEVERITY_BASE
from streamguard.db import alerts
from streamguard.models import BlacklistKind, Severity
from streamguard.times import parse_time

# The most alerts one list shows, and the sizes the form offers.
MAX_LIMIT = 1000
LIMITS = (100, 500, MAX_LIMIT)

# The time filter's choices: a label a person reads, and how far back it reaches.
SINCE = {
    "15m": ("last 15 minutes", timedelta(minutes=15)),
    "1h": ("last hour", timedelta(hours=1)),
    "24h": ("last 24 hours", timedelta(hours=24)),
    "7d": ("last 7 days", timedelta(days=7)),
    "": ("any time", None),
}


class FilterError(ValueError):
    """A filter a person typed cannot be applied; the message says which and why."""


@dataclass(frozen=True)
class AlertFilter:
    """What the alerts page narrows the list to; empty fields narrow nothing."""

    rule: str = ""
    severity: str = ""
    account: str = ""
    blacklisted: str = ""  # "yes", "no" or "" (either)
    since: str = ""  # a key of SINCE, or an ISO time
    limit: int = 100

    @classmethod
    def from_query(cls, params: dict[str, str], known_rules: list[str]) -> AlertFilter:
        """The filter of a request's query string, checked: a FilterError names a bad field."""
        for name, value in params.items():
            if "\x00" in value:  # PostgreSQL takes no NUL in a text
                raise FilterError(f"{name} holds a NUL character")
        rule = params.get("rule", "").strip()
        if rule and known_rules and rule not in known_rules:
            raise FilterError(
                f"unknown rule {rule!r}: the rules are {', '.join(sorted(known_rules))}"
            )
        severity = params.get("severity", "").strip().upper()
        if severity and severity not in Severity.__members__:
            raise FilterError(
                f"unknown severity {severity!r}: one of {', '.join(s.value for s in Severity)}"
            )
        blacklisted = params.get("blacklisted", "").strip().lower()
        if blacklisted not in ("", "yes", "no"):
            raise FilterError(f"blacklist hit must be yes, no or empty, not {blacklisted!r}")
        since = params.get("since", "").strip()
        if since not in SINCE:
            try:
                parse_time(since)
            except ValueError as exc:
                raise FilterError(f"time filter: {exc}, or one of 15m, 1h, 24h, 7d") from None
        try:
            limit = int(params.get("limit") or 100)
        except ValueError:
            raise FilterError(f"limit must be a whole number, not {params['limit']!r}") from None
        if not 1 <= limit <= MAX_LIMIT:
            raise FilterError(f"limit must be between 1 and {MAX_LIMIT}, not {limit}")
        return cls(
            rule=rule,
            severity=severity,
            account=params.get("account", "").strip(),
            blacklisted=blacklisted,
            since=since,
            limit=limit,
        )

    def since_time(self, now: datetime) -> datetime | None:
        if self.since in SINCE:
            span = SINCE[self.since][1]
            return now - span if span is not None else None
        return parse_time(self.since)

    def where(self, now: datetime) -> list[sa.ColumnElement[bool]]:
        clauses: list[sa.ColumnElement[bool]] = []
        if self.rule:
            clauses.append(alerts.c.rule_id == self.rule)
        if self.severity:
            clauses.append(alerts.c.severity == self.severity)
        if self.account:
            clauses.append(alerts.c.account_id == self.account)
        if self.blacklisted == "yes":
            clauses.append(sa.func.jsonb_array_length(alerts.c.blacklist_hits) > 0)
        elif self.blacklisted == "no":
            clauses.append(sa.func.jsonb_array_length(alerts.c.blacklist_hits) == 0)
        since = self.since_time(now)
        if since is not None:
            clauses.append(alerts.c.last_seen_at >= since)
        return clauses


_LIST_COLUMNS = (
    alerts.c.alert_id,
    alerts.c.last_seen_at,
    alerts.c.rule_id,
    alerts.c.severity,
    alerts.c.risk_score,
    alerts.c.account_id,
    alerts.c.amount,
    alerts.c.total_amount,
    alerts.c.txn_count,
    alerts.c.country,
    alerts.c.blacklist_hits,
    alerts.c.event_time,
)


def latest(engine: sa.Engine, flt: AlertFilter) -> list[dict[str, Any]]:
    """The most recently seen alerts that pass the filter, newest first."""
    query = (
        sa.select(*_LIST_COLUMNS)
        .where(*flt.where(datetime.now(UTC)))
        .order_by(alerts.c.last_seen_at.desc(), alerts.c.alert_id)
        .limit(flt.limit)
    )
    with engine.connect() as conn:
        return [dict(r._mapping) for r in conn.execute(query)]


def matching(engine: sa.Engine, flt: AlertFilter) -> int:
    """How many alerts pass the filter (the list shows the latest `flt.limit` of them)."""
    query = sa.select(sa.func.count()).select_from(alerts).where(*flt.where(datetime.now(UTC)))
    with engine.connect() as conn:
        return int(conn.execute(query).scalar_one())


def rule_ids(engine: sa.Engine) -> list[str]:
    """Every rule that has written an alert."""
    with engine.connect() as conn:
        return [r[0] for r in conn.execute(sa.select(alerts.c.rule_id).distinct())]


@dataclass(frozen=True)
class RiskPart:
    what: str
    points: int


@dataclass
class AlertDetail:
    row: dict[str, Any]
    payload: str
    risk: list[RiskPart]
    risk_total: int
    others: list[dict[str, Any]] = field(default_factory=list)

    @property
    def reason(self) -> str | None:
        """The rule's words for why it fired (its REASON column), when it wrote one."""
        payload = self.row.get("payload")
        found = payload.get("REASON") if isinstance(payload, dict) else None
        return str(found) if found else None


def risk_breakdown(row: dict[str, Any]) -> tuple[list[RiskPart], int]:
    """The risk score's parts as the consumer computed it (see consumer.enrich.risk_score)."""
    base_severity = Severity(row["rule_severity"] or row["severity"])
    base = SEVERITY_BASE[base_severity]
    parts = [RiskPart(f"base: the rule's severity {base_severity.value}", base)]
    for hit in row["blacklist_hits"] or []:
        kind = BlacklistKind(hit["kind"])
        parts.append(RiskPart(f"blacklist hit: {kind.value} {hit['value']}", HIT_WEIGHT[kind]))
    money = max(row["amount"] or Decimal(0), row["total_amount"] or Decimal(0))
    money_points = min(10, int(money // 1000))
    parts.append(RiskPart(f"money: {money} (a point per 1,000, at most 10)", money_points))
    return parts, min(100, sum(p.points for p in parts))


def detail(engine: sa.Engine, alert_id: str, *, others: int = 20) -> AlertDetail | None:
    """One alert with its payload, its risk breakdown and its account's other recent alerts."""
    with engine.connect() as conn:
        found = conn.execute(sa.select(alerts).where(alerts.c.alert_id == alert_id)).first()
        if found is None:
            return None
        row = dict(found._mapping)
        more = conn.execute(
            sa.select(*_LIST_COLUMNS)
            .where(alerts.c.account_id == row["account_id"], alerts.c.alert_id != alert_id)
            .order_by(alerts.c.last_seen_at.desc())
            .limit(others)
        )
        other_rows = [dict(r._mapping) for r in more]
    risk, total = risk_breakdown(row)
    payload = json.dumps(row["payload"], indent=2, sort_keys=True, default=str)
    return AlertDetail(row, payload, risk, total, other_rows)


def per_minute(
    engine: sa.Engine, *, minutes: int = 60, rule: str | None = None
) -> dict[str, list[tuple[datetime, int]]]:
    """Alerts first seen per minute over the last `minutes`, per rule (every minute present)."""
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    start = now - timedelta(minutes=minutes - 1)
    minute = sa.func.date_trunc("minute", alerts.c.first_seen_at).label("minute")
    query = (
        sa.select(alerts.c.rule_id, minute, sa.func.count())
        .where(alerts.c.first_seen_at >= start)
        .group_by(alerts.c.rule_id, minute)
    )
    if rule is not None:
        query = query.where(alerts.c.rule_id == rule)
    counts: dict[str, dict[datetime, int]] = {}
    with engine.connect() as conn:
        for rule_id, at, n in conn.execute(query):
            counts.setdefault(rule_id, {})[at.astimezone(UTC)] = n
    slots = [start + timedelta(minutes=i) for i in range(minutes)]
    return {r: [(t, c.get(t, 0)) for t in slots] for r, c in sorted(counts.items())}
