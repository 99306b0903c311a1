"""docker-compose.yaml is a valid Compose file whose every image is pinned."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = ROOT / "docker-compose.yaml"


def _validate(path: Path) -> subprocess.CompletedProcess[str]:
    """check-jsonschema against the Compose specification's schema it ships."""
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "check_jsonschema",
            "--builtin-schema",
            "vendor.compose-spec",
            str(path),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )


def _compose() -> dict[str, Any]:
    data = yaml.safe_load(COMPOSE.read_text())
    assert isinstance(data, dict)
    return data


def test_compose_file_validates_against_the_compose_specification() -> None:
    result = _validate(COMPOSE)
    assert result.returncode == 0, result.stdout + result.stderr


def test_a_broken_compose_file_is_caught(tmp_path: Path) -> None:
    broken = _compose()
    broken["services"]["kafka"]["depends_on"] = {"postgres": {"condition": "when_it_feels_like"}}
    path = tmp_path / "docker-compose.yaml"
    path.write_text(yaml.safe_dump(broken))
    assert _validate(path).returncode != 0


@pytest.mark.parametrize("service", sorted(_compose()["services"]))
def test_every_image_is_pinned_to_a_version(service: str) -> None:
    spec = _compose()["services"][service]
    image = spec["image"]
    name, _, tag = image.rpartition(":")
    assert name and tag, f"{service}: image {image!r} has no tag"
    assert tag != "latest", f"{service}: image {image!r} is not pinned"
    assert re.search(r"\d", tag), f"{service}: tag {tag!r} names no version"


def test_services_wait_for_what_they_need() -> None:
    services = _compose()["services"]
    for name, spec in services.items():
        for needed, condition in spec.get("depends_on", {}).items():
            # A service is only waited on as healthy when it says how to tell.
            if condition["condition"] == "service_healthy":
                assert "healthcheck" in services[needed], f"{name} waits on {needed}'s health"
    assert services["postgres"]["healthcheck"]["test"][1].startswith("pg_isready")
