"""Blacklist entries: adding, removing, importing, and the cached lookup the consumer reloads."""

from __future__ import annotations

import csv
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pycountry
import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.sql.dml import ReturningInsert

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


# The longest value an entry may have: ids of accounts, cards and merchants are far shorter, and
# a longer one is a paste gone wrong.
MAX_VALUE = 200


def normalise(kind: Kind, value: str) -> str:
    value = value.strip()
    # Country codes are upper-case on the wire; accept whatever case an analyst types.
    return value.upper() if kind is Kind.COUNTRY else value


def check(entry: Entry) -> Entry:
    """The entry, or a BlacklistError naming what is wrong with it."""
    value = normalise(entry.kind, entry.value)
    for name, text in (("value", entry.value), ("reason", entry.reason)):
        if "\x00" in text:  # PostgreSQL takes no NUL in a text
            raise BlacklistError(f"a blacklisted {entry.kind.value}'s {name} holds a NUL character")
    if not value:
        raise BlacklistError(f"a blacklisted {entry.kind.value} needs a value")
    if len(value) > MAX_VALUE:
        raise BlacklistError(
            f"a blacklisted {entry.kind.value} of {len(value):,} characters: an id is at most "
            f"{MAX_VALUE}"
        )
    if entry.kind is Kind.COUNTRY and pycountry.countries.get(alpha_2=value) is None:
        raise BlacklistError(f"{entry.value!r} is not an ISO 3166-1 alpha-2 country code")
    return entry


@dataclass(frozen=True)
class Written:
    """What `add` wrote: entries new to the list, and entries that replaced one of theirs."""

    added: int
    replaced: int

    @property
    def total(self) -> int:
        return self.added + self.replaced

    def replacing(self) -> str:
        """' (N replaced existing entries)', or nothing when none did."""
        return f" ({self.replaced} replaced existing entries)" if self.replaced else ""


def add(engine: sa.Engine, entries: Iterable[Entry]) -> Written:
    """Add or replace entries (one per kind and value, the last given of each)."""
    # By kind and value, as the table keeps them: PostgreSQL refuses one statement that
    # upserts the same row twice (a CSV listing an entry twice, or `de` and `DE`).
    latest = {(e.kind, normalise(e.kind, check(e).value)): e for e in entries}
    rows = [
        {
            "kind": kind.value,
            "value": value,
            "reason": e.reason,
            "added_by": e.added_by,
            "added_at": e.added_at or datetime.now(UTC),
            "expires_at": e.expires_at,
        }
        for (kind, value), e in latest.items()
    ]
    if not rows:
        return Written(0, 0)
    values = insert(blacklist).values(rows)
    statement: ReturningInsert[tuple[bool]] = values.on_conflict_do_update(
        constraint="blacklist_kind_value",
        set_={
            col: values.excluded[col] for col in ("reason", "added_by", "added_at", "expires_at")
        },
    ).returning(
        # PostgreSQL's way to tell an upsert's inserted rows (no deleting transaction yet)
        # from its updated ones.
        sa.literal_column("xmax = 0")
    )
    with engine.begin() as conn:
        inserted = [bool(r[0]) for r in conn.execute(statement)]
    return Written(sum(inserted), len(inserted) - sum(inserted))


def added_text(kind: Kind, value: str, written: Written) -> str:
    """What adding one entry did, in words."""
    value = normalise(kind, value)
    if written.replaced:
        return (
            f"replaced the entry for {kind.value} {value} (its reason and expiry are the new ones)"
        )
    return f"blacklisted {kind.value} {value}"


def remove(engine: sa.Engine, kind: Kind, value: str) -> bool:
    with engine.begin() as conn:
        result = conn.execute(
            sa.delete(blacklist).where(
                blacklist.c.kind == kind.value, blacklist.c.value == normalise(kind, value)
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
    with path.open(newline="") as handle:
        return parse_csv(handle, source=str(path), added_by=added_by)


def parse_csv(lines: Iterable[str], *, source: str, added_by: str) -> list[Entry]:
    """Entries of CSV text (kind, value[, reason, expires_at]); errors name `source` and line."""
    out: list[Entry] = []
    reader = csv.DictReader(lines)
    missing = {"kind", "value"} - set(reader.fieldnames or [])
    if missing:
        raise BlacklistError(f"{source}: missing column(s) {', '.join(sorted(missing))}")
    try:
        for line, row in enumerate(reader, start=2):
            if None in row:  # csv puts the values past the header's columns under None
                raise BlacklistError(
                    f"{source}:{line}: more values than the header has columns "
                    f"({', '.join(reader.fieldnames or [])})"
                )
            out.append(_csv_entry(row, f"{source}:{line}", added_by))
    except csv.Error as exc:
        raise BlacklistError(f"{source}:{reader.line_num}: not CSV: {exc}") from None
    return out


def _csv_entry(row: dict[str, str | None], where: str, added_by: str) -> Entry:
    try:
        kind = Kind((row.get("kind") or "").strip().lower())
    except ValueError:
        raise BlacklistError(
            f"{where}: kind {row.get('kind')!r} is not one of {', '.join(k.value for k in Kind)}"
        ) from None
    value = (row.get("value") or "").strip()
    if not value:
        raise BlacklistError(f"{where}: empty value")
    expires = (row.get("expires_at") or "").strip()
    try:
        expires_at = _future(parse_time(expires)) if expires else None
    except (ValueError, BlacklistError) as exc:
        raise BlacklistError(f"{where}: {exc}") from None
    entry = Entry(kind, value, (row.get("reason") or "").strip(), added_by, expires_at=expires_at)
    try:
        return check(entry)
    except BlacklistError as exc:
        raise BlacklistError(f"{where}: {exc}") from None


def _future(moment: datetime) -> datetime:
    """`moment`, or a BlacklistError when it has passed: an entry expiring then would be
    written and never block anything."""
    if moment <= datetime.now(UTC):
        raise BlacklistError(
            f"expiry {moment.isoformat()} has passed: the entry would block nothing"
        )
    return moment


def expiry(expires: str | None, expires_in: str | None) -> datetime | None:
    """An entry's expiry from an ISO time or a span from now (30m, 12h, 7d), or None."""
    if expires and expires_in:
        raise BlacklistError("give an expiry time or a span from now, not both")
    if expires:
        try:
            return _future(parse_time(expires))
        except ValueError as exc:
            raise BlacklistError(str(exc)) from None
    if expires_in:
        units = {"m": 60, "h": 3600, "d": 86400}
        number, unit = expires_in[:-1], expires_in[-1:]
        if unit not in units or not number.isdigit():
            raise BlacklistError(f"expiry span {expires_in!r} is not like 30m, 12h or 7d")
        if int(number) == 0:
            raise BlacklistError(
                f"expiry span {expires_in!r} ends now: the entry would block nothing"
            )
        return datetime.now(UTC) + timedelta(seconds=int(number) * units[unit])
    return None


class BlacklistCache:
    """The active entries, reloaded from PostgreSQL every `reload_s` seconds.

    The consumer looks up every alert; reading the table per alert would cost a round trip each,
    and a few seconds' delay is what an analyst adding an entry can wait.
    """

    def __init__(
        self,
        engine: sa.Engine,
        *,
        reload_s: float = 2.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.engine = engine
        self.reload_s = reload_s
        self._clock = clock
        self._entries: dict[tuple[Kind, str], Entry] = {}
        self._loaded_at = float("-inf")

    def refresh(self, *, force: bool = False) -> None:
        now = self._clock()
        if force or now - self._loaded_at >= self.reload_s:
            self._entries = {(e.kind, e.value): e for e in entries(self.engine)}
            self._loaded_at = now

    def hits(self, candidates: Iterable[tuple[Kind, str | None]]) -> list[Hit]:
        self.refresh()
        if not self._entries:
            return []  # the common case, and the consumer asks for every alert
        now = datetime.now(UTC)
        found: list[Hit] = []
        for kind, value in candidates:
            if value is None:
                continue
            entry = self._entries.get((kind, normalise(kind, value)))
            if entry is not None and entry.active(now):
                found.append(Hit(kind, entry.value, entry.reason))
        return found
