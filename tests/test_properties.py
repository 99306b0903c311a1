"""Java `.properties` files read as Java (and so ksql-migrations) reads them."""

from __future__ import annotations

from pathlib import Path

import pytest

from streamguard.properties import PropertiesError, read_properties


def test_escapes_continuations_and_separators_follow_java(tmp_path: Path) -> None:
    path = tmp_path / "ksql-migrations.properties"
    path.write_bytes(
        b"# comment\n! also a comment\n\n"
        b"ksql.server.url=http://ksql:8088\n"
        b"spaced.key   value\n"
        b"colon : v\n"
        b"escaped\\ key=caf\\u00e9\n"
        b"latin1=caf\xe9\n"
        b"joined=a,\\\n    b\n"
        b"last=tail\\"  # a continuation at the very end still keeps its line
    )
    assert read_properties(path) == {
        "ksql.server.url": "http://ksql:8088",
        "spaced.key": "value",
        "colon": "v",
        "escaped key": "café",
        "latin1": "café",
        "joined": "a,b",
        "last": "tail",
    }


def test_a_bad_unicode_escape_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "bad.properties"
    path.write_text("k=\\uZZZZ\n")
    with pytest.raises(PropertiesError, match=r"bad\.properties.*\\uZZZZ"):
        read_properties(path)


def test_a_missing_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(PropertiesError, match=r"cannot read .*missing\.properties"):
        read_properties(tmp_path / "missing.properties")
