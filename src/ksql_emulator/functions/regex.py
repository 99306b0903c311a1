"""ksqlDB's REGEXP_* built-ins, Java regex syntax translated to Python's (string.json...)."""

from __future__ import annotations

import re
from functools import lru_cache

from ksql_emulator import sql_types as ty
from ksql_emulator.functions.registry import FunctionRegistry

__all__ = ["java_pattern", "register"]

S, INT = ty.STRING, ty.INTEGER
ARRAY_S = ty.ArrayType(ty.STRING)


@lru_cache(maxsize=256)
def java_pattern(pattern: str) -> re.Pattern[str]:
    """Java regex syntax compiled for Python (named groups, possessive-free subset)."""
    translated = re.sub(r"\(\?<([A-Za-z][A-Za-z0-9]*)>", r"(?P<\1>", pattern)
    translated = translated.replace("\\p{Alpha}", "[A-Za-z]").replace("\\p{Digit}", "[0-9]")
    translated = translated.replace("\\p{Alnum}", "[A-Za-z0-9]").replace(
        "\\p{Punct}", "[!-/:-@[-`{-~]"
    )
    return re.compile(translated)


def _regexp_extract(pattern: str, text: str, group: int = 0) -> str | None:
    m = java_pattern(pattern).search(text)
    if m is None:
        return None
    return m.group(group)


def _regexp_extract_all(pattern: str, text: str, group: int = 0) -> list[str | None]:
    return [m.group(group) for m in java_pattern(pattern).finditer(text)]


def _regexp_split(text: str, pattern: str) -> list[str]:
    compiled = java_pattern(pattern)
    out: list[str] = []
    last = 0
    for m in compiled.finditer(text):
        if m.end() == m.start() == 0:
            continue
        out.append(text[last : m.start()])
        last = m.end()
    out.append(text[last:])
    return out


def _regexp_replace(text: str, pattern: str, replacement: str) -> str:
    py_repl = re.sub(r"\$(\d+)", r"\\g<\1>", replacement.replace("\\", "\\\\"))
    return java_pattern(pattern).sub(py_repl, text)


def register(reg: FunctionRegistry) -> None:
    """Add the regex functions to `reg`."""
    add = reg.register
    cat = "STRING"
    add(
        "REGEXP_EXTRACT",
        [S, S],
        S,
        _regexp_extract,
        category=cat,
        description="The first match of a Java regex (or of a group of it).",
    )
    add("REGEXP_EXTRACT", [S, S, INT], S, _regexp_extract, category=cat)
    add(
        "REGEXP_EXTRACT_ALL",
        [S, S],
        ARRAY_S,
        _regexp_extract_all,
        category=cat,
        description="Every match of a Java regex (or of a group of it).",
    )
    add("REGEXP_EXTRACT_ALL", [S, S, INT], ARRAY_S, _regexp_extract_all, category=cat)
    add(
        "REGEXP_REPLACE",
        [S, S, S],
        S,
        _regexp_replace,
        category=cat,
        description="Replaces every match of a Java regex.",
    )
    add(
        "REGEXP_SPLIT_TO_ARRAY",
        [S, S],
        ARRAY_S,
        _regexp_split,
        category=cat,
        description="Splits a string around matches of a Java regex.",
    )
