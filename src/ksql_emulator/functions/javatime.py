"""Java DateTimeFormatter patterns and ZoneId names, translated for Python's datetime."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

__all__ = ["JavaFormat", "java_format", "java_zone"]

_MONTHS = [
    "January", "February", "March", "April", "May", "June", "July", "August", "September",
    "October", "November", "December",
]  # fmt: skip
_DAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]
_UTC = dt.UTC
_OFFSET_RE = re.compile(r"^(?:(?:GMT|UTC|UT)?([+-])(\d{1,2})(?::?(\d{2}))?(?::?(\d{2}))?)$")


@lru_cache(maxsize=128)
def java_zone(name: str) -> dt.tzinfo:
    """Java's ZoneId.of: region ids, `UTC`/`GMT`/`Z`, offsets `+02:00`, `+0200`, `GMT+2`."""
    text = name.strip()
    if text in ("Z", "UTC", "GMT", "UT", "UTC0", "GMT0"):
        return _UTC
    m = _OFFSET_RE.match(text)
    if m is not None:
        sign = -1 if m.group(1) == "-" else 1
        offset = dt.timedelta(
            hours=int(m.group(2)), minutes=int(m.group(3) or 0), seconds=int(m.group(4) or 0)
        )
        return dt.timezone(sign * offset)
    try:
        return ZoneInfo(text)
    except (ZoneInfoNotFoundError, ValueError) as err:
        raise ValueError(f"Unknown time-zone ID: {name}") from err


@dataclass(frozen=True)
class _Field:
    letter: str
    count: int


@dataclass(frozen=True)
class _Literal:
    text: str


@dataclass(frozen=True)
class _Optional:
    start: bool


_Token = _Field | _Literal | _Optional


def _tokenize(pattern: str) -> list[_Token]:
    tokens: list[_Token] = []
    i, n = 0, len(pattern)
    while i < n:
        c = pattern[i]
        if c == "'":
            j = i + 1
            text = []
            while j < n:
                if pattern[j] == "'":
                    if j + 1 < n and pattern[j + 1] == "'":
                        text.append("'")
                        j += 2
                        continue
                    break
                text.append(pattern[j])
                j += 1
            if j >= n:
                raise ValueError(f"Pattern ends with an incomplete string literal: {pattern}")
            tokens.append(_Literal("".join(text) if text or j > i + 1 else "'"))
            i = j + 1
        elif c == "[":
            tokens.append(_Optional(True))
            i += 1
        elif c == "]":
            tokens.append(_Optional(False))
            i += 1
        elif c.isalpha():
            j = i
            while j < n and pattern[j] == c:
                j += 1
            if c not in "GuyDMLdQqYwWEecFaBhKkHmsSAnNVvzOXxZp":
                raise ValueError(f"Unknown pattern letter: {c}")
            tokens.append(_Field(c, j - i))
            i = j
        else:
            tokens.append(_Literal(c))
            i += 1
    return tokens


def _offset_text(offset: dt.timedelta | None, style: str, count: int) -> str:
    seconds = int((offset or dt.timedelta(0)).total_seconds())
    if seconds == 0 and style == "X":
        return "Z"
    sign = "-" if seconds < 0 else "+"
    seconds = abs(seconds)
    hh, mm = seconds // 3600, (seconds % 3600) // 60
    if style in ("X", "x"):
        if count == 1:
            return f"{sign}{hh:02d}" + (f"{mm:02d}" if mm else "")
        if count in (2, 4):
            return f"{sign}{hh:02d}{mm:02d}"
        return f"{sign}{hh:02d}:{mm:02d}"
    if style == "Z":
        if count <= 3:
            return f"{sign}{hh:02d}{mm:02d}"
        if count == 4:
            return "GMT" if seconds == 0 else f"GMT{sign}{hh:02d}:{mm:02d}"
        return "Z" if seconds == 0 else f"{sign}{hh:02d}:{mm:02d}"
    # O: localized offset
    if seconds == 0:
        return "GMT"
    if count == 1:
        return f"GMT{sign}{hh}" + (f":{mm:02d}" if mm else "")
    return f"GMT{sign}{hh:02d}:{mm:02d}"


def _format_field(f: _Field, v: dt.datetime, zone_name: str) -> str:
    c, n = f.letter, f.count
    if c in "yuY":
        year = v.year
        return f"{year % 100:02d}" if n == 2 else str(year).zfill(n)
    if c in "ML":
        if n >= 4:
            return _MONTHS[v.month - 1]
        if n == 3:
            return _MONTHS[v.month - 1][:3]
        return str(v.month).zfill(n)
    if c == "d":
        return str(v.day).zfill(n)
    if c == "D":
        return str(v.timetuple().tm_yday).zfill(n)
    if c in "Eec":
        name = _DAYS[v.weekday()]
        if c != "E" and n <= 2:
            return str((v.weekday() + 1) % 7 + 1).zfill(n)
        return name if n >= 4 else name[:3]
    if c == "a":
        return "AM" if v.hour < 12 else "PM"
    if c == "H":
        return str(v.hour).zfill(n)
    if c == "k":
        return str(v.hour or 24).zfill(n)
    if c == "K":
        return str(v.hour % 12).zfill(n)
    if c == "h":
        return str(v.hour % 12 or 12).zfill(n)
    if c == "m":
        return str(v.minute).zfill(n)
    if c == "s":
        return str(v.second).zfill(n)
    if c == "S":
        return f"{v.microsecond:06d}000"[:n]
    if c == "n":
        return str(v.microsecond * 1000).zfill(n)
    if c == "A":
        millis = ((v.hour * 60 + v.minute) * 60 + v.second) * 1000 + v.microsecond // 1000
        return str(millis).zfill(n)
    if c == "z":
        short = v.tzname() or zone_name
        # A fixed offset prints as the offset itself (`+05:30`), as Java's ZoneOffset does.
        if short.startswith("UTC") and len(short) > 3:
            short = short[3:]
        return short if n < 4 else zone_name
    if c == "V":
        return zone_name
    if c in "XxZO":
        return _offset_text(v.utcoffset(), c, n)
    if c == "G":
        return "AD"
    if c in "Qq":
        return str((v.month - 1) // 3 + 1).zfill(n)
    raise ValueError(f"Unsupported pattern letter for formatting: {c}")


_NUMERIC = set("yuYMLdDHkKhmsSnAQqwWF")


def _regex_for(f: _Field, next_numeric: bool, name: str) -> str:
    c, n = f.letter, f.count
    g = f"(?P<{name}>"
    if c in "yuY":
        if n == 2:
            return g + r"\d{2})"
        return g + (r"[+-]?\d{" + str(max(n, 4)) + "})" if next_numeric else r"[+-]?\d{4,9})")
    if c in "ML" and n >= 3:
        return g + "[A-Za-z]+)"
    if c in "Eec" and (c == "E" or n >= 3):
        return g + "[A-Za-z]+)"
    if c == "a":
        return g + "[AaPp][Mm])"
    if c == "S":
        return g + r"\d{" + str(n) + "})"
    if c in _NUMERIC or c in "Eec":
        if n >= 2 or next_numeric:
            return g + r"\d{" + str(n) + "})"
        return g + r"\d{1,19})" if c in "nA" else g + r"\d{1,2})"
    if c in "XxZO":
        return g + r"Z|GMT|UTC|[+-]\d{2}(?::?\d{2})?(?::?\d{2})?|GMT[+-]\d{1,2}(?::\d{2})?)"
    if c in "zV":
        return g + r"[A-Za-z][A-Za-z0-9_/+\-]*)"
    if c == "G":
        return g + "AD|BC)"
    raise ValueError(f"Unsupported pattern letter for parsing: {c}")


class JavaFormat:
    """A compiled Java DateTimeFormatter pattern that formats and parses datetimes."""

    def __init__(self, pattern: str) -> None:
        self.pattern = pattern
        self.tokens = _tokenize(pattern)
        parts: list[str] = []
        self.fields: dict[str, _Field] = {}
        for i, tok in enumerate(self.tokens):
            if isinstance(tok, _Literal):
                parts.append(re.escape(tok.text))
            elif isinstance(tok, _Optional):
                parts.append("(?:" if tok.start else ")?")
            else:
                following = self.tokens[i + 1] if i + 1 < len(self.tokens) else None
                next_numeric = isinstance(following, _Field) and following.letter in _NUMERIC
                name = f"f{i}"
                self.fields[name] = tok
                rx = _regex_for(tok, next_numeric, name)
                parts.append(rx)
        # ksqlDB builds its formatters with parseCaseInsensitive().
        self.regex = re.compile("".join(parts) + r"\Z", re.IGNORECASE)
        self.prefix_regex = re.compile("".join(parts), re.IGNORECASE)

    def format(self, value: dt.datetime, zone: dt.tzinfo) -> str:
        """`value` (naive UTC) rendered in `zone`."""
        local = value.replace(tzinfo=_UTC).astimezone(zone)
        zone_name = getattr(zone, "key", None) or (
            "UTC" if zone is _UTC else _offset_text(local.utcoffset(), "X", 3)
        )
        out: list[str] = []
        for tok in self.tokens:
            if isinstance(tok, _Literal):
                out.append(tok.text)
            elif isinstance(tok, _Field):
                out.append(_format_field(tok, local, zone_name))
        return "".join(out)

    def format_local(self, value: dt.datetime) -> str:
        """A wall-clock value (DATE or TIME as a datetime) with no zone conversion."""
        out: list[str] = []
        for tok in self.tokens:
            if isinstance(tok, _Literal):
                out.append(tok.text)
            elif isinstance(tok, _Field):
                if tok.letter in "XxZOzV":
                    raise ValueError(f"Unsupported field: {tok.letter}")
                out.append(_format_field(tok, value, "Z"))
        return "".join(out)

    def parse(self, text: str, zone: dt.tzinfo | None) -> dt.datetime:
        """`text` -> naive UTC datetime; a zone in the text wins over `zone` (default UTC)."""
        local, parsed_zone = self.parse_local(text)
        tz = parsed_zone or zone or _UTC
        aware = local.replace(tzinfo=tz)
        return aware.astimezone(_UTC).replace(tzinfo=None)

    def parse_local(
        self, text: str, *, allow_trailing: bool = False
    ) -> tuple[dt.datetime, dt.tzinfo | None]:
        """The wall-clock datetime in `text` (missing fields from 1970-01-01T00:00) and zone.

        `allow_trailing` ignores text after the pattern, as SimpleDateFormat.parse does.
        """
        m = (self.prefix_regex if allow_trailing else self.regex).match(text)
        if m is None:
            raise ValueError(f"Text '{text}' could not be parsed at index 0")
        year, month, day, hour, minute, second, micro = 1970, 1, 1, 0, 0, 0, 0
        pm: bool | None = None
        hour12: int | None = None
        day_of_year: int | None = None
        zone: dt.tzinfo | None = None
        for group, value in m.groupdict().items():
            if value is None:
                continue
            f = self.fields[group]
            c = f.letter
            if c in "yuY":
                year = int(value) + (2000 if f.count == 2 else 0)
            elif c in "ML":
                month = _month_number(value) if f.count >= 3 else int(value)
            elif c == "d":
                day = int(value)
            elif c == "D":
                day_of_year = int(value)
            elif c in "Hk":
                hour = int(value) % 24
            elif c in "hK":
                hour12 = int(value) % 12
            elif c == "a":
                pm = value.upper() == "PM"
            elif c == "m":
                minute = int(value)
            elif c == "s":
                second = int(value)
            elif c == "S":
                micro = int(value.ljust(6, "0")[:6])
            elif c == "n":
                micro = int(value) // 1000
            elif c in "XxZO":
                zone = java_zone(value.upper())
            elif c in "zV":
                zone = _zone_from_name(value)
        if hour12 is not None:
            hour = hour12 + (12 if pm else 0)
        result = dt.datetime(year, month, day, hour, minute, second, micro)
        if day_of_year is not None:
            result = result.replace(month=1, day=1) + dt.timedelta(days=day_of_year - 1)
        return result, zone


def _month_number(name: str) -> int:
    lowered = name.lower()
    for i, month in enumerate(_MONTHS, start=1):
        if month.lower() == lowered or month[:3].lower() == lowered:
            return i
    raise ValueError(f"Unknown month: {name}")


_ABBREVIATIONS = {
    "PST": "America/Los_Angeles",
    "PDT": "America/Los_Angeles",
    "EST": "-05:00",
    "EDT": "America/New_York",
    "CET": "Europe/Paris",
    "BST": "Europe/London",
}


def _zone_from_name(name: str) -> dt.tzinfo:
    return java_zone(_ABBREVIATIONS.get(name, name))


@lru_cache(maxsize=256)
def java_format(pattern: str) -> JavaFormat:
    """The compiled form of a Java DateTimeFormatter pattern (cached)."""
    return JavaFormat(pattern)
