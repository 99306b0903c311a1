"""Java properties files read as Java reads them (ksql-migrations' configuration)."""

from __future__ import annotations

from pathlib import Path

import pytest

from streamguard.properties import PropertiesError, parse_properties, read_properties


def test_separators_comments_and_continuations() -> None:
    text = (
        "# comment\n! also a comment\n"
        "a=1\n  b : 2\nc 3\nd=one \\\n    two\ne\n"
        "f=ends with a backslash\\\\\ng=after it\n"
    )
    assert parse_properties(text) == {
        "a": "1",
        "b": "2",
        "c": "3",
        "d": "one two",
        "e": "",
        "f": "ends with a backslash\\",
        "g": "after it",
    }


def test_escapes_in_keys_and_values() -> None:
    text = "url=http\\://host\\:8088\nkey\\ with\\=equals=v\nu=caf\\u00e9\\t!\nx=\\q\n"
    assert parse_properties(text) == {
        "url": "http://host:8088",
        "key with=equals": "v",
        "u": "café\t!",
        "x": "q",
    }


def test_the_file_is_latin_1_as_java_reads_it(tmp_path: Path) -> None:
    path = tmp_path / "a.properties"
    path.write_bytes("user=Jos\xe9\n".encode("latin-1"))
    assert read_properties(path) == {"user": "José"}


def test_a_broken_unicode_escape_names_its_line() -> None:
    with pytest.raises(PropertiesError, match=r"line 2: malformed \\uXXXX"):
        parse_properties("a=1\nb=\\u12G4\n")
