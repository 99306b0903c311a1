"""Blacklist entries: adding, removing, importing, and the cached lookup the consumer reloads."""

from __future__ import annotations

import csv
import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pycountry
import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert

from streamguard.db import blacklist
from streamguard.models import BlacklistKind as Kind
from streamguard.times import parse_time


class BlacklistError(ValueError):
    """A blacklist entry or file is wrong; the message names what and where."""


@dataclass(frozen=True)
class Entry:
    kind: Kind
    value: str
    reason: str = ""
    added_by: str = "streamguard"
    added_at: datetime | None = None
    expires_at: datetime | None = None

    def active(self, now: datetime) -> bool:
        return self.expires_at is None or self.expires_at > now


@dataclass(frozen=True)
class Hit:
    """An alert's field that matched a blacklist entry."""

    kind: Kind
    value: str
    reason: str

    def as_json(self) -> dict[str, str]:
        return {"kind": self.kind.value, "value": self.value, "reason": self.reason}


def _normalise(kind: Kind, value: str) -> str:
    value = value.strip()
    # Country codes are upper-case on the wire; accept whatever case an analyst types.
    return value.upper() if kind is Kind.COUNTRY else value


def check(entry: Entry) -> Entry:
    """The entry, or a BlacklistError naming what is wrong with it."""
    value = _normalise(entry.kind, entry.value)
    if not value:
        raise BlacklistError(f"a blacklisted {entry.kind.value} needs a value")
    if entry.kind is Kind.COUNTRY and pycountry.countries.get(alpha_2=value) is None:
        raise BlacklistError(f"{entry.value!r} is not an ISO 3166-1 alpha-2 country code")
    return entry


def add(engine: sa.Engine, entries: Iterable[Entry]) -> int:
    """Add or replace entries (one per kind and value); returns how many were written."""
    rows = [
        {
            "kind": e.kind.value,
            "value": _normalise(e.kind, check(e).value),
            "reason": e.reason,
            "added_by": e.added_by,
            "added_at": e.added_at or datetime.now(UTC),
            "expires_at": e.expires_at,
        }
        for e in entries
    ]
    if not rows:
        return 0
    statement = insert(blacklist).values(rows)
    statement = statement.on_conflict_do_update(
        constraint="blacklist_kind_value",
        set_={
            col: statement.excluded[col] for col in ("reason", "added_by", "added_at", "expires_at")
        },
    )
    with engine.begin() as conn:
        conn.execute(statement)
    return len(rows)


def remove(engine: sa.Engine, kind: Kind, value: str) -> bool:
    with engine.begin() as conn:
        result = conn.execute(
            sa.delete(blacklist).where(
                blacklist.c.kind == kind.value, blacklist.c.value == _normalise(kind, value)
            )
        )
    return result.rowcount > 0


def entries(engine: sa.Engine, *, include_expired: bool = False) -> list[Entry]:
    query = sa.select(blacklist).order_by(blacklist.c.kind, blacklist.c.value)
    if not include_expired:
        query = query.where(
            sa.or_(blacklist.c.expires_at.is_(None), blacklist.c.expires_at > sa.func.now())
        )
    with engine.connect() as conn:
        return [
            Entry(Kind(r.kind), r.value, r.reason, r.added_by, r.added_at, r.expires_at)
            for r in conn.execute(query)
        ]


def entries_of_rows(rows: Iterable[dict[str, str]], *, added_by: str) -> list[Entry]:
    """Entries of rows with kind, value and reason (the producer's population writes such)."""
    return [Entry(Kind(r["kind"]), r["value"], r.get("reason", ""), added_by) for r in rows]


def read_csv(path: Path, *, added_by: str) -> list[Entry]:
    """Entries of a CSV file with the columns kind, value and optionally reason, expires_at."""
    out: list[Entry] = []
    with path.open(newline="") as handle:
        reader = csv.DictReader(handle)
        missing = {"kind", "value"} - set(reader.fieldnames or [])
        if missing:
            raise BlacklistError(f"{path}: missing column(s) {', '.join(sorted(missing))}")
        for line, row in enumerate(reader, start=2):
            try:
                kind = Kind((row.get("kind") or "").strip().lower())
            except ValueError:
                raise BlacklistError(
                    f"{path}:{line}: kind {row.get('kind')!r} is not one of "
                    f"{', '.join(k.value for k in Kind)}"
                ) from None
            value = (row.get("value") or "").strip()
            if not value:
                raise BlacklistError(f"{path}:{line}: empty value")
            expires = (row.get("expires_at") or "").strip()
            try:
                expires_at = parse_time(expires) if expires else None
            except ValueError as exc:
                raise BlacklistError(f"{path}:{line}: {exc}") from None
            entry = Entry(
                kind, value, (row.get("reason") or "").strip(), added_by, expires_at=expires_at
            )
            try:
                out.append(check(entry))
            except BlacklistError as exc:
                raise BlacklistError(f"{path}:{line}: {exc}") from None
    return out


class BlacklistCache:
    """The active entries, reloaded from PostgreSQL every `reload_s` seconds.

    The consumer looks up every alert; reading the table per alert would cost a round trip each,
    and a few seconds' delay is what an analyst adding an entry can wait.
    """

    def __init__(self, engine: sa.Engine, *, reload_s: float = 2.0) -> None:
        self.engine = engine
        self.reload_s = reload_s
        self._entries: dict[tuple[Kind, str], Entry] = {}
        self._loaded_at = float("-inf")

    def refresh(self, *, force: bool = False) -> None:
        now = time.monotonic()
        if force or now - self._loaded_at >= self.reload_s:
            self._entries = {(e.kind, e.value): e for e in entries(self.engine)}
            self._loaded_at = now

    def hits(self, candidates: Iterable[tuple[Kind, str | None]]) -> list[Hit]:
        self.refresh()
        now = datetime.now(UTC)
        found: list[Hit] = []
        for kind, value in candidates:
            if value is None:
                continue
            entry = self._entries.get((kind, _normalise(kind, value)))
            if entry is not None and entry.active(now):
                found.append(Hit(kind, entry.value, entry.reason))
        return found
