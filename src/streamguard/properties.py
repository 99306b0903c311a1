"""Java `.properties` files, read as `java.util.Properties.load(InputStream)` reads them.

The bytes are ISO-8859-1; a logical line may continue on the next one after an odd number of
trailing backslashes; `#` or `!` as the first non-blank character makes a comment; the key ends
at the first unescaped `=`, `:` or blank; and `\\t`, `\\n`, `\\r`, `\\f`, `\\uXXXX` are escapes
(any other escaped character stands for itself). Tools of the Java world (ksql-migrations among
them) write and read their configuration this way, so a file that either side wrote means the
same to the other.
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["PropertiesError", "parse_properties", "read_properties"]

_BLANKS = " \t\f"
_ESCAPES = {"t": "\t", "n": "\n", "r": "\r", "f": "\f"}


class PropertiesError(ValueError):
    """A properties file that cannot be read or holds a malformed `\\uXXXX` escape."""


def read_properties(path: Path) -> dict[str, str]:
    """The properties of the file at `path` (later keys win, as in Java)."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise PropertiesError(f"cannot read {path}: {exc.strerror or exc}") from None
    try:
        return parse_properties(data.decode("iso-8859-1"))
    except PropertiesError as exc:
        raise PropertiesError(f"{path}: {exc}") from None


def parse_properties(text: str) -> dict[str, str]:
    """The properties of `text`, a whole file's contents."""
    properties: dict[str, str] = {}
    for number, line in _logical_lines(text):
        key, value = _split(line, number)
        properties[key] = value
    return properties


def _logical_lines(text: str) -> list[tuple[int, str]]:
    """Each property's text with its continuations joined, and the line it starts on."""
    out: list[tuple[int, str]] = []
    pending: str | None = None
    start = 0
    for number, raw in enumerate(text.replace("\r\n", "\n").replace("\r", "\n").split("\n"), 1):
        stripped = raw.lstrip(_BLANKS)
        if pending is None:
            if not stripped or stripped[0] in "#!":
                continue
            start, pending = number, ""
        trailing = len(stripped) - len(stripped.rstrip("\\"))
        if trailing % 2:
            pending += stripped[:-1]
            continue
        out.append((start, pending + stripped))
        pending = None
    if pending:  # a continuation on the last line continues into nothing
        out.append((start, pending))
    return out


def _split(line: str, number: int) -> tuple[str, str]:
    index = 0
    while index < len(line):
        char = line[index]
        if char == "\\":
            index += 2
            continue
        if char in "=:" or char in _BLANKS:
            break
        index += 1
    key = line[:index]
    if index < len(line) and line[index] in "=:":
        rest = line[index + 1 :].lstrip(_BLANKS)
    else:
        rest = line[index:].lstrip(_BLANKS)
        if rest[:1] in ("=", ":"):
            rest = rest[1:].lstrip(_BLANKS)
    return _unescape(key, number), _unescape(rest, number)


def _unescape(text: str, number: int) -> str:
    if "\\" not in text:
        return text
    out: list[str] = []
    index = 0
    while index < len(text):
        char = text[index]
        if char != "\\":
            out.append(char)
            index += 1
            continue
        following = text[index + 1 : index + 2]
        if following == "u":
            digits = text[index + 2 : index + 6]
            if len(digits) != 4 or any(c not in "0123456789abcdefABCDEF" for c in digits):
                raise PropertiesError(f"line {number}: malformed \\uXXXX escape: \\u{digits}")
            out.append(chr(int(digits, 16)))
            index += 6
            continue
        out.append(_ESCAPES.get(following, following))
        index += 2
    return "".join(out)
