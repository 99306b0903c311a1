"""The `ksql-emulator` command line: property files, -D flags, listeners."""

from __future__ import annotations

from pathlib import Path

import pytest

from ksql_emulator.app.cli import main, settings_from_args
from ksql_emulator.app.config import ConfigError, parse_listener, read_properties


def test_properties_file_follows_java_rules(tmp_path: Path) -> None:
    path = tmp_path / "ksql-server.properties"
    path.write_text(
        "# comment\n! also a comment\n\n"
        "bootstrap.servers=kafka:9092\n"
        "listeners : http://0.0.0.0:8089\n"
        "ksql.service.id   svc_\n"
        "ksql.streams.auto.offset.reset=earliest\n"
        "long.value=a,\\\n    b\n"
    )
    assert read_properties(path) == {
        "bootstrap.servers": "kafka:9092",
        "listeners": "http://0.0.0.0:8089",
        "ksql.service.id": "svc_",
        "ksql.streams.auto.offset.reset": "earliest",
        "long.value": "a,b",
    }


def test_flags_beat_defines_which_beat_the_file(tmp_path: Path) -> None:
    path = tmp_path / "server.properties"
    path.write_text("bootstrap.servers=file:1\nksql.service.id=file_\nlisteners=http://h:1\n")
    settings = settings_from_args(
        [
            "--config-file",
            str(path),
            "-D",
            "ksql.service.id=define_",
            "-D",
            "bootstrap.servers=define:2",
            "--bootstrap-servers",
            "flag:3",
            "--state-dir",
            str(tmp_path / "state"),
        ]
    )
    assert settings.bootstrap_servers == "flag:3"
    assert settings.service_id == "define_"
    assert (settings.host, settings.port) == ("h", 1)
    assert settings.properties["ksql.streams.state.dir"] == str(tmp_path / "state")
    assert (tmp_path / "state").is_dir()


def test_defaults_match_ksqldb() -> None:
    settings = settings_from_args(["--bootstrap-servers", "k:9092"])
    assert (settings.host, settings.port, settings.service_id) == ("127.0.0.1", 8088, "default_")


@pytest.mark.parametrize(
    ("listener", "fragment"),
    [("https://h:1", "only plain http://"), ("http://h:notaport", "invalid port")],
)
def test_bad_listener_is_named(listener: str, fragment: str) -> None:
    with pytest.raises(ConfigError, match=fragment):
        parse_listener(listener)


def test_bad_define_exits_with_a_clear_message(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["-D", "novalue"]) == 2
    assert "-D expects key=value, got 'novalue'" in capsys.readouterr().err


def test_missing_config_file_is_named(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--config-file", str(tmp_path / "nope.properties")]) == 2
    assert "nope.properties" in capsys.readouterr().err
