"""ksqlDB's string and bytes built-ins (string.json, substring.json, concat.json, len.json...)."""

from __future__ import annotations

import hashlib
import uuid
from typing import Any

from ksql_emulator import sql_types as ty
from ksql_emulator.functions.registry import FunctionRegistry

__all__ = ["register"]

S, B, INT, BIGINT = ty.STRING, ty.BYTES, ty.INTEGER, ty.BIGINT
ARRAY_S = ty.ArrayType(ty.STRING)
ARRAY_B = ty.ArrayType(ty.BYTES)


def _java_trim(s: str) -> str:
    # Java's String.trim strips every char <= U+0020, not only Unicode whitespace.
    start, end = 0, len(s)
    while start < end and s[start] <= " ":
        start += 1
    while end > start and s[end - 1] <= " ":
        end -= 1
    return s[start:end]


def _md5(s: str) -> str:
    # Apache Commons' md5Hex, as ksqlDB calls it: the UTF-8 bytes' digest in lower-case hex.
    return hashlib.md5(s.encode("utf-8"), usedforsecurity=False).hexdigest()


def _substring(value: Any, pos: int, length: int | None = None) -> Any:
    n = len(value)
    start = max(n + pos, 0) if pos < 0 else max(min(pos - 1, n), 0)
    if length is None:
        return value[start:]
    end = max(min(start + length, n), start)
    return value[start:end]


def _concat(*parts: Any) -> Any:
    present = [p for p in parts if p is not None]
    return "".join(present)


def _concat_bytes(*parts: Any) -> Any:
    return b"".join(p for p in parts if p is not None)


def _concat_ws(sep: Any, *parts: Any) -> Any:
    if sep is None:
        return None
    return sep.join(p for p in parts if p is not None)


def _split(text: str, delim: str) -> list[str]:
    if delim == "":
        return list(text) or [""]
    return text.split(delim)


def _split_bytes(data: bytes, delim: bytes) -> list[bytes]:
    if delim == b"":
        return [bytes([b]) for b in data] or [b""]
    return data.split(delim)


def _split_to_map(text: str, entry_delim: str, kv_delim: str) -> dict[str, str] | None:
    if entry_delim == "" or kv_delim == "" or entry_delim == kv_delim:
        return None
    result: dict[str, str] = {}
    for entry in text.split(entry_delim):
        if entry == "":
            continue
        if kv_delim in entry:
            # The value is what lies between the first and the second key-value delimiter:
            # `a=1=2` maps a to 1. A later entry for the same key wins.
            parts = entry.split(kv_delim)
            result[parts[0]] = parts[1]
    return result


def _instr(text: str, sub: str, position: int = 1, occurrence: int = 1) -> int:
    if occurrence <= 0:
        return 0
    if position < 0:
        end = len(text) + position + 1
        idx = end
        for _ in range(occurrence):
            idx = text.rfind(sub, 0, idx + len(sub) - 1 if idx < len(text) else idx)
            if idx < 0:
                return 0
        return idx + 1
    idx = position - 2
    for _ in range(occurrence):
        idx = text.find(sub, idx + 1)
        if idx < 0:
            return 0
    return idx + 1


def _pad(value: Any, length: int, padding: Any, left: bool) -> Any:
    if length < 0 or len(padding) == 0:
        return None
    if len(value) >= length:
        return value[:length]
    need = length - len(value)
    fill = (padding * (need // len(padding) + 1))[:need]
    return fill + value if left else value + fill


def _initcap(text: str) -> str:
    out: list[str] = []
    start = True
    for ch in text:
        if ch.isspace():
            start = True
            out.append(ch)
        elif start:
            out.append(ch.upper())
            start = False
        else:
            out.append(ch.lower())
    return "".join(out)


def _mask_char(
    ch: str, upper: str | None, lower: str | None, digit: str | None, other: str | None
) -> str:
    if ch.isupper():
        repl = upper
    elif ch.islower():
        repl = lower
    elif ch.isdigit():
        repl = digit
    else:
        repl = other
    return ch if repl is None else repl


def _masker(keep: str) -> Any:
    def mask(text: str | None, *args: Any) -> str | None:
        if text is None:
            return None
        count: int | None = None
        rest = list(args)
        if keep != "all":
            count = rest.pop(0)
            if count is None:
                return text
            if count < 0:
                raise ValueError(f"function mask requires a non-negative number, got {count}")
        defaults = ["X", "x", "n", "-"]
        for i, r in enumerate(rest):
            defaults[i] = r
        upper, lower, digit, other = (d if d is None else d[:1] for d in defaults)
        chars = list(text)
        n = len(chars)
        if keep == "all":
            targets = range(n)
        elif keep == "left":
            targets = range(min(count or 0, n))
        elif keep == "right":
            targets = range(max(n - (count or 0), 0), n)
        elif keep == "keep_left":
            targets = range(min(count or 0, n), n)
        else:
            targets = range(max(n - (count or 0), 0))
        for i in targets:
            chars[i] = _mask_char(chars[i], upper, lower, digit, other)
        return "".join(chars)

    return mask


def _elt(n: int | None, *items: Any) -> Any:
    if n is None or n < 1 or n > len(items):
        return None
    return items[n - 1]


def _field(target: Any, *items: Any) -> int:
    if target is None:
        return 0
    for i, item in enumerate(items, start=1):
        if item == target:
            return i
    return 0


def register(reg: FunctionRegistry) -> None:
    """Add the string and bytes functions to `reg`."""
    add = reg.register
    cat = "STRING"
    add("LCASE", [S], S, str.lower, description="Converts a string to lowercase.", category=cat)
    add("UCASE", [S], S, str.upper, description="Converts a string to uppercase.", category=cat)
    add(
        "TRIM",
        [S],
        S,
        _java_trim,
        description="Removes leading and trailing whitespace.",
        category=cat,
    )
    add("MD5", [S], S, _md5, description="The hex-encoded MD5 hash of a string.", category=cat)
    add("LEN", [S], INT, len, description="Length of a string or bytes.", category=cat)
    add("LEN", [B], INT, len, category=cat)
    for t in (S, B):
        add(
            "SUBSTRING",
            [t, INT],
            t,
            _substring,
            category=cat,
            description="Part of a string or bytes from a 1-based position, maybe of a length.",
        )
        add("SUBSTRING", [t, INT, INT], t, _substring, category=cat)
    add(
        "CONCAT",
        [S],
        S,
        _concat,
        variadic=True,
        null_in_null_out=False,
        category=cat,
        description="Concatenates strings or bytes; null arguments are skipped.",
    )
    add("CONCAT", [B], B, _concat_bytes, variadic=True, null_in_null_out=False, category=cat)
    add(
        "CONCAT_WS",
        [S, S],
        S,
        _concat_ws,
        variadic=True,
        null_in_null_out=False,
        category=cat,
        description="Concatenates with a separator; null arguments are skipped.",
    )
    add("CONCAT_WS", [B, B], B, _concat_ws, variadic=True, null_in_null_out=False, category=cat)
    add(
        "REPLACE",
        [S, S, S],
        S,
        lambda s, a, b: s.replace(a, b),
        category=cat,
        description="Replaces every occurrence of a substring.",
    )
    add(
        "SPLIT",
        [S, S],
        ARRAY_S,
        _split,
        category=cat,
        description="Splits a string or bytes around a delimiter.",
    )
    add("SPLIT", [B, B], ARRAY_B, _split_bytes, category=cat)
    add(
        "SPLIT_TO_MAP",
        [S, S, S],
        ty.MapType(S, S),
        _split_to_map,
        category=cat,
        description="Splits a string into key-value pairs.",
    )
    add(
        "INSTR",
        [S, S],
        INT,
        _instr,
        category=cat,
        description="1-based position of a substring, 0 when absent.",
    )
    add("INSTR", [S, S, INT], INT, _instr, category=cat)
    add("INSTR", [S, S, INT, INT], INT, _instr, category=cat)
    for t in (S, B):
        add(
            "LPAD",
            [t, INT, t],
            t,
            lambda v, n, p: _pad(v, n, p, True),
            category=cat,
            description="Pads on the left to a length.",
        )
        add(
            "RPAD",
            [t, INT, t],
            t,
            lambda v, n, p: _pad(v, n, p, False),
            category=cat,
            description="Pads on the right to a length.",
        )
    add(
        "INITCAP",
        [S],
        S,
        _initcap,
        category=cat,
        description="Capitalizes the first letter of each word, lower-cases the rest.",
    )
    masks = {
        "MASK": "all",
        "MASK_LEFT": "left",
        "MASK_RIGHT": "right",
        "MASK_KEEP_LEFT": "keep_left",
        "MASK_KEEP_RIGHT": "keep_right",
    }
    for name, keep in masks.items():
        fixed = [S] if keep == "all" else [S, INT]
        fn = _masker(keep)
        for extra in range(5):
            add(
                name,
                fixed + [S] * extra,
                S,
                fn,
                null_in_null_out=False,
                category=cat,
                description="Masks characters: upper X, lower x, digit n, other -.",
            )
    add("UUID", [], S, lambda: str(uuid.uuid4()), category=cat, description="A random UUID string.")
    add(
        "ELT",
        [INT, S],
        S,
        _elt,
        variadic=True,
        null_in_null_out=False,
        category=cat,
        description="The n-th of the following arguments.",
    )
    add(
        "FIELD",
        [S, S],
        INT,
        _field,
        variadic=True,
        null_in_null_out=False,
        category=cat,
        description="Position of the first argument among the rest, 0 when absent.",
    )
