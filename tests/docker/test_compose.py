"""docker-compose.yaml: a valid Compose file in both its profiles, every image pinned, every port
published on 127.0.0.1 only, no secret in the repository, and a cluster profile that is one."""

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
ENV_EXAMPLE = ROOT / ".env.example"
PROFILES = ("single", "cluster")
# Compose's interpolation: ${NAME}, ${NAME:-default}, ${NAME:?error} and their unset-only forms.
INTERPOLATION = re.compile(r"\$\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?P<op>:?[-?])?(?P<arg>[^}]*)\}")
# A URL's user:password@, the password written out or interpolated.
URL_PASSWORD = re.compile(r"://[^/@\s:]+:(?P<password>\$\{[^}]*\}|[^/@\s]*)@")
SECRET_NAME = re.compile(r"PASSWORD|SECRET|TOKEN|CREDENTIAL|API_?KEY", re.IGNORECASE)


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


def _services(profile: str | None = None) -> dict[str, dict[str, Any]]:
    """The services Compose runs with `profile` active (all of them when None)."""
    services: dict[str, dict[str, Any]] = _compose()["services"]
    if profile is None:
        return services
    # A service without profiles always runs; one with them runs when one is active.
    return {n: s for n, s in services.items() if profile in s.get("profiles", [profile])}


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for v in value.values() for s in _strings(v)]
    if isinstance(value, list):
        return [s for v in value for s in _strings(v)]
    return []


def test_compose_file_validates_against_the_compose_specification() -> None:
    result = _validate(COMPOSE)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("profile", PROFILES)
def test_each_profile_is_a_complete_valid_application(profile: str, tmp_path: Path) -> None:
    services = _services(profile)
    # Compose refuses a model whose services wait on one the profile leaves out.
    for name, spec in services.items():
        for needed in spec.get("depends_on", {}):
            assert needed in services, f"{profile}: {name} depends on {needed}, not in the profile"
    # The model Compose runs for the profile is itself a valid Compose file.
    model = {**_compose(), "services": services}
    path = tmp_path / "docker-compose.yaml"
    path.write_text(yaml.safe_dump(model))
    result = _validate(path)
    assert result.returncode == 0, result.stdout + result.stderr
    # One Kafka, one ksqlDB, one consumer and one producer role at least, in each profile.
    commands = {" ".join(_strings(s.get("command", []))) for s in services.values()}
    assert any("streamguard consume" in c for c in commands)
    assert any("streamguard produce" in c for c in commands)
    assert any("migrate apply" in c for c in commands)


def test_every_service_belongs_to_a_profile() -> None:
    # A service outside every profile would run beside either stack, the other's included.
    for name, spec in _services().items():
        assert set(spec.get("profiles", [])) & set(PROFILES), f"{name} has no profile"


def test_a_broken_compose_file_is_caught(tmp_path: Path) -> None:
    broken = _compose()
    broken["services"]["kafka"]["depends_on"] = {"postgres": {"condition": "when_it_feels_like"}}
    path = tmp_path / "docker-compose.yaml"
    path.write_text(yaml.safe_dump(broken))
    assert _validate(path).returncode != 0


@pytest.mark.parametrize("service", sorted(_services()))
def test_every_image_is_pinned_to_a_version(service: str) -> None:
    spec = _services()[service]
    image = spec["image"]
    name, _, tag = image.rpartition(":")
    assert name and tag, f"{service}: image {image!r} has no tag"
    assert tag != "latest", f"{service}: image {image!r} is not pinned"
    assert re.search(r"\d", tag), f"{service}: tag {tag!r} names no version"


def test_services_wait_for_what_they_need() -> None:
    services = _services()
    for name, spec in services.items():
        for needed, condition in spec.get("depends_on", {}).items():
            # A service is only waited on as healthy when it says how to tell.
            if condition["condition"] == "service_healthy":
                assert "healthcheck" in services[needed], f"{name} waits on {needed}'s health"
    assert services["postgres"]["healthcheck"]["test"][1].startswith("pg_isready")


def _host_ip(port: Any) -> str | None:
    """The host address a `ports` entry publishes on (None: every interface)."""
    if isinstance(port, dict):
        return port.get("host_ip")
    # "container", "host:container" or "ip:host:container", each with an optional "/protocol".
    ip, *ports = str(port).split("/")[0].rsplit(":", 2)
    return ip.strip("[]") if len(ports) == 2 else None


def test_every_port_is_published_on_loopback_only() -> None:
    published = 0
    for name, spec in _services().items():
        for port in spec.get("ports", []):
            published += 1
            assert _host_ip(port) == "127.0.0.1", f"{name} publishes {port!r} beyond 127.0.0.1"
        assert "network_mode" not in spec, f"{name} shares the host's network"
    assert published >= 8


@pytest.mark.parametrize(
    ("port", "host_ip"),
    [("9092:19092", None), ("127.0.0.1:9092:19092", "127.0.0.1"), ("8080", None),
     ("0.0.0.0:80:80/tcp", "0.0.0.0"), ({"target": 80, "host_ip": "127.0.0.1"}, "127.0.0.1")],
)  # fmt: skip
def test_the_port_check_reads_every_form(port: Any, host_ip: str | None) -> None:
    assert _host_ip(port) == host_ip


def _secret_values() -> list[tuple[str, str, str]]:
    """(service, variable, value) of every environment variable that holds a secret, named
    as one or a URL with a password in it."""
    found = []
    for name, spec in _services().items():
        environment = spec.get("environment", {})
        assert isinstance(environment, dict), f"{name}: environment as a mapping, please"
        for key, value in environment.items():
            text = str(value)
            if SECRET_NAME.search(key) or URL_PASSWORD.search(text):
                found.append((name, key, text))
    return found


def test_no_secret_is_written_in_the_compose_file() -> None:
    secrets = _secret_values()
    assert {key for _, key, _ in secrets} >= {"POSTGRES_PASSWORD", "DATABASE_URL"}
    for service, key, value in secrets:
        if SECRET_NAME.search(key):
            match = INTERPOLATION.fullmatch(value)
            assert match, f"{service}: {key} is written in the file, not taken from .env"
        else:
            password = URL_PASSWORD.search(value)
            assert password, value
            match = INTERPOLATION.fullmatch(password.group("password"))
            assert match, f"{service}: {key} has a password written in the file"
        # Required, with no fallback that would be a password in the repository.
        assert match.group("op") == ":?", f"{service}: {key} must be set, with no default"


def _env_example() -> dict[str, str]:
    pairs = {}
    for line in ENV_EXAMPLE.read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            key, _, value = line.partition("=")
            pairs[key.strip()] = value.strip()
    return pairs


def _git(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, timeout=30)


def test_secrets_come_from_an_uncommitted_env_file_with_a_committed_example() -> None:
    required = {
        match.group("name")
        for value in _strings(_compose())
        for match in INTERPOLATION.finditer(value)
        if match.group("op") == ":?"
    }
    example = _env_example()
    assert required <= set(example), f".env.example lacks {required - set(example)}"
    for key, value in example.items():
        if SECRET_NAME.search(key):
            assert value == "", f".env.example gives {key} a value: a secret in the repository"
    assert example.get("COMPOSE_PROFILES") == "single"
    assert _git("ls-files", "--error-unmatch", ".env.example").returncode == 0
    assert _git("check-ignore", "-q", ".env").returncode == 0, ".env is not git-ignored"
    assert _git("ls-files", "--error-unmatch", ".env").returncode != 0, ".env is committed"
    # Nor is it copied into the image that `docker compose build` makes.
    assert ".env" in (ROOT / ".dockerignore").read_text().split()


def test_the_cluster_profile_is_a_cluster() -> None:
    services = _services("cluster")
    brokers = {n: s for n, s in services.items() if s["image"].startswith("apache/kafka:")}
    assert len(brokers) == 3
    envs = [s["environment"] for s in brokers.values()]
    assert len({e["KAFKA_NODE_ID"] for e in envs}) == 3
    assert len({e["CLUSTER_ID"] for e in envs}) == 1
    for env in envs:
        voters = env["KAFKA_CONTROLLER_QUORUM_VOTERS"].split(",")
        assert sorted(v.split("@")[1].split(":")[0] for v in voters) == sorted(brokers)
        assert env["KAFKA_DEFAULT_REPLICATION_FACTOR"] == 3
        assert env["KAFKA_MIN_INSYNC_REPLICAS"] == 2
        assert env["KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR"] == 3
        assert env["KAFKA_TRANSACTION_STATE_LOG_MIN_ISR"] == 2

    ksqldbs = [s for s in services.values() if "ksqldb-server:" in s["image"]]
    assert len(ksqldbs) == 2
    # One service id: one ksqlDB cluster sharing the command topic and the queries' work.
    assert len({s["environment"]["KSQL_KSQL_SERVICE_ID"] for s in ksqldbs}) == 1
    for server in ksqldbs:
        env = server["environment"]
        assert set(env["KSQL_BOOTSTRAP_SERVERS"].split(",")) == {f"{b}:9092" for b in brokers}
        assert env["KSQL_KSQL_INTERNAL_TOPIC_REPLICAS"] == 3
        assert server["hostname"] in env["KSQL_KSQL_ADVERTISED_LISTENER"]

    consumers = [
        s
        for s in services.values()
        if "streamguard consume" in " ".join(_strings(s.get("command")))
    ]
    assert sum(s.get("deploy", {}).get("replicas", 1) for s in consumers) == 2
    for consumer in consumers:
        env = consumer["environment"]
        # One group: no replica is given a group, or a static instance id, of its own.
        assert "STREAMGUARD_CONSUMER_GROUP" not in env
        assert "STREAMGUARD_CONSUMER_INSTANCE_ID" not in env
        assert set(env["KAFKA_BOOTSTRAP_SERVERS"].split(",")) == {f"{b}:9092" for b in brokers}


def test_the_single_profile_runs_one_of_each() -> None:
    services = _services("single")
    assert sum(s["image"].startswith("apache/kafka:") for s in services.values()) == 1
    assert sum("ksqldb-server:" in s["image"] for s in services.values()) == 1
