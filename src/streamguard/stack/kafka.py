"""A real Apache Kafka broker in KRaft mode, run from Maven Central jars on 127.0.0.1."""

from __future__ import annotations

import hashlib
import re
import shutil
import subprocess
import uuid
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from streamguard import terminal
from streamguard.stack import processes
from streamguard.stack.errors import MissingToolError, NotReadyError, StackError
from streamguard.stack.state import PartState

DEFAULT_PORT = 9092
CACHE_DIR = Path.home() / ".cache" / "streamguard"
_MIN_JAVA = 17


def _resource(name: str) -> str:
    return resources.files("streamguard.stack").joinpath(name).read_text()


def check_java() -> str:
    """The java executable, or a clear error when it is missing or older than Java 17."""
    java = shutil.which("java")
    if java is None:
        raise MissingToolError(
            "Java 17 or newer is needed to run the local Kafka broker, and `java` is not on PATH: "
            "install a JDK (e.g. `apt-get install openjdk-17-jre-headless`) or set "
            "KAFKA_BOOTSTRAP_SERVERS to a broker you run yourself"
        )
    out = subprocess.run([java, "-version"], capture_output=True, text=True).stderr
    match = re.search(r'version "(\d+)', out)
    if match and int(match.group(1)) < _MIN_JAVA:
        raise MissingToolError(f"the local Kafka broker needs Java {_MIN_JAVA}+, found: {out}")
    return java


def resolve_classpath(*, log: Path) -> str:
    """The broker's classpath, resolved by Maven from the project's pom once and then cached."""
    pom = _resource("kafka-pom.xml")
    digest = hashlib.sha256(pom.encode()).hexdigest()[:16]
    cache = CACHE_DIR / f"kafka-{digest}"
    classpath_file = cache / "classpath.txt"
    if classpath_file.exists():
        classpath = classpath_file.read_text().strip()
        if all(Path(jar).exists() for jar in classpath.split(":")):
            return classpath
    mvn = shutil.which("mvn")
    if mvn is None:
        raise MissingToolError(
            "Maven (`mvn`) is needed once to fetch the Kafka broker's jars from Maven Central, "
            "and it is not on PATH: install it (e.g. `apt-get install maven`)"
        )
    cache.mkdir(parents=True, exist_ok=True)
    (cache / "pom.xml").write_text(pom)
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("ab") as out:
        result = subprocess.run(
            [
                mvn,
                "-B",
                "-q",
                "-f",
                str(cache / "pom.xml"),
                "dependency:build-classpath",
                f"-Dmdep.outputFile={classpath_file}",
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    if result.returncode != 0 or not classpath_file.exists():
        raise StackError("Maven could not resolve the Kafka broker's jars", log=log)
    return classpath_file.read_text().strip()


# A single-node broker on a developer's machine. G1's and the JIT compilers' many threads are
# sized for a server; the serial collector suits a small heap and one node, and one thread per
# compiler tier is enough. Both tiers, though: with the optimising compiler (C2) turned off the
# broker started quietly but stayed slow, and C2's compiling is over within about two minutes.
# Measured on 2 cores at 20 transactions a second with the rules running, C1 alone: the broker
# at 13-15% of a core for good; with C2: 20-24% in the first minute, then 8-9%. In the whole
# pipeline benchmark C2 also halved the 5,000/s backlog's p50 (4.5 s against 9.9 s), the rest
# of the machine getting what the broker no longer used; throughput stayed within its noise.
JVM_OPTIONS: tuple[str, ...] = (
    "-Xms64m",
    "-Xmx1g",
    "-XX:+UseSerialGC",
    "-XX:CICompilerCount=2",
    "-XX:ActiveProcessorCount=1",
    "-Xss512k",
)
# Thread pools and internal topics sized for one node and a handful of clients, not a cluster:
# fewer threads to wake and fewer partitions of the group and transaction logs to serve. The
# controller's idle no-op record every 5 s rather than every 0.5 s.
TUNING: tuple[str, ...] = (
    "num.network.threads=1",
    "num.io.threads=2",
    "background.threads=2",
    "log.cleaner.threads=1",
    "offsets.topic.num.partitions=5",
    "transaction.state.log.num.partitions=5",
    "group.coordinator.threads=1",
    "share.coordinator.threads=1",
    "metadata.max.idle.interval.ms=5000",
    # Kept by size, not by age: Kafka judges a record's age by its timestamp, and replayed or
    # simulated traffic (`produce --start-time`, the benchmarks, backfills) carries event times
    # months old, which the retention check (every 5 minutes) would delete as soon as they were
    # written, unread records and rules' window updates included. 1 GiB per partition.
    "log.retention.ms=-1",
    "log.retention.bytes=1073741824",
)


@dataclass(frozen=True)
class KafkaPaths:
    root: Path

    @property
    def config(self) -> Path:
        return self.root / "server.properties"

    @property
    def data(self) -> Path:
        return self.root / "data"

    @property
    def logs(self) -> Path:
        return self.root / "logs"

    @property
    def log(self) -> Path:
        return self.logs / "server.log"

    @property
    def stdout(self) -> Path:
        return self.logs / "stdout.log"


def _server_properties(paths: KafkaPaths, port: int, controller_port: int) -> str:
    return "\n".join(
        [
            *TUNING,
            "process.roles=broker,controller",
            "node.id=1",
            f"controller.quorum.voters=1@127.0.0.1:{controller_port}",
            f"listeners=PLAINTEXT://127.0.0.1:{port},CONTROLLER://127.0.0.1:{controller_port}",
            f"advertised.listeners=PLAINTEXT://127.0.0.1:{port}",
            "controller.listener.names=CONTROLLER",
            "inter.broker.listener.name=PLAINTEXT",
            "listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
            f"log.dirs={paths.data}",
            "num.partitions=1",
            # One node: every internal topic must live with a single replica.
            "offsets.topic.replication.factor=1",
            "share.coordinator.state.topic.replication.factor=1",
            "share.coordinator.state.topic.min.isr=1",
            "transaction.state.log.replication.factor=1",
            "transaction.state.log.min.isr=1",
            "group.initial.rebalance.delay.ms=0",
            "auto.create.topics.enable=true",
            "",
        ]
    )


def is_running(part: PartState, state_dir: Path) -> bool:
    return processes.is_ours(part.pid, str(KafkaPaths(state_dir / "kafka").config))


def is_ready(bootstrap: str, timeout_s: float = 3.0) -> bool:
    """Whether the broker answers a metadata request."""
    from confluent_kafka.admin import AdminClient

    host, _, port = bootstrap.rpartition(":")
    # librdkafka would log every refused connection while the broker boots: ask the socket first.
    if not port.isdigit() or not processes.port_accepts(int(port), host or "127.0.0.1"):
        return False
    try:
        config: dict[str, Any] = {
            "bootstrap.servers": bootstrap,
            "socket.timeout.ms": 2000,
            "logger": terminal.librdkafka_silenced,
        }
        admin = AdminClient(config)
        metadata = admin.list_topics(timeout=timeout_s)
    except Exception:
        return False
    return bool(metadata.brokers)


def start(
    part: PartState, state_dir: Path, *, port: int = DEFAULT_PORT, timeout_s: float = 90.0
) -> PartState:
    """Start the broker unless it runs already; format its storage on the first start."""
    paths = KafkaPaths(state_dir / "kafka")
    if is_running(part, state_dir):
        return part
    java = check_java()
    classpath = resolve_classpath(log=paths.logs / "maven.log")
    paths.data.mkdir(parents=True, exist_ok=True)
    log4j = paths.root / "log4j2.properties"
    log4j.write_text(_resource("log4j2.properties"))
    jvm = [
        java,
        *JVM_OPTIONS,
        f"-Dkafka.logs.dir={paths.logs}",
        f"-Dlog4j2.configurationFile={log4j}",
        "-cp",
        classpath,
    ]
    if not (paths.data / "meta.properties").exists():
        # Formatting reads the config's log.dirs and controller settings, not its ports' state.
        port_now = part.port or port
        paths.config.write_text(_server_properties(paths, port_now, port_now + 1))
        cluster_id = part.extra.get("cluster_id") or _cluster_id()
        paths.logs.mkdir(parents=True, exist_ok=True)
        with paths.stdout.open("ab") as out:
            formatted = subprocess.run(
                [
                    *jvm,
                    "kafka.tools.StorageTool",
                    "format",
                    "-t",
                    cluster_id,
                    "-c",
                    str(paths.config),
                ],
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        if formatted.returncode != 0:
            raise StackError("formatting the Kafka broker's storage failed", log=paths.stdout)
        part.extra["cluster_id"] = cluster_id
    # A recorded port is kept across restarts so clients' addresses stay valid; a taken one is
    # not. A port can also be taken between our check and the broker's bind (by another
    # program's connection): then the broker is started again on fresh ports. (The emulator is
    # handed a socket already bound; a JVM cannot inherit one, and KRaft's controller must know
    # its port before it starts, so the broker binds its ports itself.)
    preferred = part.port or port
    for attempt in range(3):
        chosen = processes.choose_port(preferred)
        controller = processes.choose_port(
            part.extra.get("controller_port", chosen + 1) if attempt == 0 else chosen + 1,
            {chosen},
        )
        try:
            return _launch(part, paths, jvm, chosen, controller, timeout_s)
        except processes.PortTaken:
            preferred = processes.free_port()
    raise StackError(
        f"the Kafka broker could not bind a port in 3 attempts (last: {chosen}, {controller})",
        log=paths.log,
    )


def _launch(
    part: PartState,
    paths: KafkaPaths,
    jvm: list[str],
    chosen: int,
    controller: int,
    timeout_s: float,
) -> PartState:
    paths.config.write_text(_server_properties(paths, chosen, controller))
    logged = paths.log.stat().st_size if paths.log.exists() else 0
    pid = processes.spawn([*jvm, "kafka.Kafka", str(paths.config)], log=paths.stdout)
    part.pid, part.port = pid, chosen
    part.url = f"127.0.0.1:{chosen}"
    part.extra["controller_port"] = controller
    part.extra["log"] = str(paths.log)

    def ready() -> bool:
        if not processes.still_starting(pid, str(paths.config)):
            log = paths.log if paths.log.exists() else paths.stdout
            if b"Address already in use" in processes.written_since(
                log, logged if log == paths.log else 0
            ):
                raise processes.PortTaken
            raise StackError(
                f"the Kafka broker {processes.how_it_ended(pid)} while starting on port {chosen}",
                log=log,
            )
        return is_ready(part.url or "", timeout_s=1.0)

    if not processes.wait_started(pid, ready, timeout_s):
        raise NotReadyError(
            f"the Kafka broker on 127.0.0.1:{chosen} was not ready within {timeout_s:.0f} s",
            log=paths.log,
        )
    return part


def _cluster_id() -> str:
    """16 random bytes in URL-safe base64 without padding, as Kafka makes them.

    Like Kafka, never one that starts with "-": a command line would read it as an option.
    """
    import base64

    while True:
        cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        if not cluster_id.startswith("-"):
            return cluster_id


def stop(part: PartState, state_dir: Path) -> bool:
    stopped = processes.stop(part.pid, str(KafkaPaths(state_dir / "kafka").config), timeout_s=60)
    part.pid = None
    return stopped
