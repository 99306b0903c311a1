"""The runner's configuration: ksql-migrations' properties file, or StreamGuard's settings."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING

from streamguard import properties
from streamguard.migrations.errors import ConfigError

if TYPE_CHECKING:
    from streamguard.settings import Settings

CONFIG_FILE_NAME = "ksql-migrations.properties"
MIGRATIONS_DIR_NAME = "migrations"
STREAMGUARD_MIGRATIONS_DIR = Path("ksql")

SERVER_URL = "ksql.server.url"
STREAM_NAME = "ksql.migrations.stream.name"
TABLE_NAME = "ksql.migrations.table.name"
STREAM_TOPIC_NAME = "ksql.migrations.stream.topic.name"
TABLE_TOPIC_NAME = "ksql.migrations.table.topic.name"
TOPIC_REPLICAS = "ksql.migrations.topic.replicas"
DIR_OVERRIDE = "ksql.migrations.dir.override"
BASIC_AUTH_USERNAME = "ksql.auth.basic.username"
BASIC_AUTH_PASSWORD = "ksql.auth.basic.password"

DEFAULT_STREAM_NAME = "MIGRATION_EVENTS"
DEFAULT_TABLE_NAME = "MIGRATION_SCHEMA_VERSIONS"


@dataclass(frozen=True)
class MigrationConfig:
    """What the runner needs; names and defaults as ksql-migrations' `MigrationConfig`.

    Topic names left unset default, as in ksql-migrations, to
    `<ksql service id>ksql_<stream or table name>`, which needs the server's `/info`.
    """

    server_url: str
    migrations_dir: Path
    stream_name: str = DEFAULT_STREAM_NAME
    table_name: str = DEFAULT_TABLE_NAME
    stream_topic_name: str | None = None
    table_topic_name: str | None = None
    topic_replicas: int = 1
    basic_auth: tuple[str, str] | None = None
    source: str = "StreamGuard settings"
    extra: dict[str, str] = field(default_factory=dict)
    # Sent with every request (`apply --headers FILE`).
    headers: dict[str, str] = field(default_factory=dict)

    @property
    def project_dir(self) -> Path:
        """The folder that holds the migrations folder: where the runner keeps its lock."""
        return self.migrations_dir.resolve().parent

    def stream_topic(self, service_id: str) -> str:
        return self.stream_topic_name or f"{service_id}ksql_{self.stream_name}"

    def table_topic(self, service_id: str) -> str:
        return self.table_topic_name or f"{service_id}ksql_{self.table_name}"


def read_properties(path: Path) -> dict[str, str]:
    """A Java `.properties` file as ksql-migrations reads it (ISO-8859-1, Java's escapes)."""
    try:
        return properties.read_properties(path)
    except properties.PropertiesError as exc:
        raise ConfigError(f"cannot read the migrations config file: {exc}") from None


def load_config(path: Path) -> MigrationConfig:
    """The configuration of a ksql-migrations project, from its properties file."""
    properties = read_properties(path)
    url = properties.get(SERVER_URL, "").strip()
    if not url:
        raise ConfigError(f"{path} does not set {SERVER_URL} (e.g. {SERVER_URL}=http://host:8088)")
    override = properties.get(DIR_OVERRIDE, "").strip()
    # As ksql-migrations: the override is taken as given, else `migrations/` beside the file.
    migrations_dir = Path(override) if override else path.parent / MIGRATIONS_DIR_NAME
    replicas_text = properties.get(TOPIC_REPLICAS, "1").strip() or "1"
    try:
        replicas = int(replicas_text)
    except ValueError:
        raise ConfigError(
            f"{path}: {TOPIC_REPLICAS} must be a whole number, not {replicas_text!r}"
        ) from None
    user = properties.get(BASIC_AUTH_USERNAME, "")
    return MigrationConfig(
        server_url=url,
        migrations_dir=migrations_dir,
        stream_name=properties.get(STREAM_NAME, "").strip() or DEFAULT_STREAM_NAME,
        table_name=properties.get(TABLE_NAME, "").strip() or DEFAULT_TABLE_NAME,
        stream_topic_name=properties.get(STREAM_TOPIC_NAME, "").strip() or None,
        table_topic_name=properties.get(TABLE_TOPIC_NAME, "").strip() or None,
        topic_replicas=replicas,
        basic_auth=(user, properties.get(BASIC_AUTH_PASSWORD, "")) if user else None,
        source=str(path),
        extra=properties,
    )


def resolve_config(
    config_file: Path | None,
    *,
    server_url: str | None = None,
    migrations_dir: Path | None = None,
    settings: Settings | None = None,
) -> MigrationConfig:
    """The config file given, else `ksql-migrations.properties` here, else StreamGuard's
    settings (KSQLDB_URL or the local stack's address, migrations in `ksql/`).

    A properties file's `ksql.server.url` is the server, as for ksql-migrations (which reads
    nothing else). A KSQLDB_URL set in the environment that names another server is an error
    rather than a silent choice between the two. `server_url`/`migrations_dir` override both.
    `settings` are the command's (default: the environment's).
    """
    if settings is None:
        from streamguard.settings import get_settings

        settings = get_settings()
    if config_file is None and Path(CONFIG_FILE_NAME).is_file():
        config_file = Path(CONFIG_FILE_NAME)
    if config_file is not None:
        if not config_file.is_file():
            raise ConfigError(f"migrations config file {config_file} does not exist")
        config = load_config(config_file)
        if server_url is None:
            _refuse_conflicting_env(config, config_file, settings)
    else:
        config = MigrationConfig(
            server_url=settings.ksqldb, migrations_dir=STREAMGUARD_MIGRATIONS_DIR
        )
    if server_url or migrations_dir:
        config = replace(
            config,
            server_url=server_url or config.server_url,
            migrations_dir=migrations_dir or config.migrations_dir,
        )
    return config


def _refuse_conflicting_env(config: MigrationConfig, config_file: Path, settings: Settings) -> None:
    env_url = settings.ksqldb_url
    if env_url and env_url.rstrip("/") != config.server_url.rstrip("/"):
        raise ConfigError(
            f"{config_file} sets {SERVER_URL}={config.server_url} but KSQLDB_URL is "
            f"{env_url}; ksql-migrations would use the file's server. Unset KSQLDB_URL, or "
            f"point {SERVER_URL} at {env_url}, or give another properties file with -c."
        )


def properties_template(server_url: str) -> str:
    """The `ksql-migrations.properties` that `new-project` writes."""
    return (
        "# ksql-migrations configuration (also read by `streamguard migrate`).\n"
        f"{SERVER_URL}={server_url}\n"
        "\n"
        "# Names of the migrations metadata stream and table, and their topics.\n"
        f"# {STREAM_NAME}={DEFAULT_STREAM_NAME}\n"
        f"# {TABLE_NAME}={DEFAULT_TABLE_NAME}\n"
        f"# {STREAM_TOPIC_NAME}=<ksql service id>ksql_{DEFAULT_STREAM_NAME}\n"
        f"# {TABLE_TOPIC_NAME}=<ksql service id>ksql_{DEFAULT_TABLE_NAME}\n"
        f"# {TOPIC_REPLICAS}=1\n"
        "\n"
        "# Where the migration files are; by default `migrations/` beside this file.\n"
        f"# {DIR_OVERRIDE}=\n"
        "\n"
        "# Basic authentication to the ksqlDB server.\n"
        f"# {BASIC_AUTH_USERNAME}=\n"
        f"# {BASIC_AUTH_PASSWORD}=\n"
        "\n"
        "# OAuth: a token from the issuer by the client-credentials grant.\n"
        "# bearer.auth.issuer.endpoint.url=\n"
        "# bearer.auth.client.id=\n"
        "# bearer.auth.client.secret=\n"
        "# bearer.auth.scope=\n"
        "\n"
        "# TLS (PEM files for `streamguard migrate`).\n"
        "# ssl.truststore.location=\n"
        "# ssl.truststore.password=\n"
        "# ssl.keystore.location=\n"
        "# ssl.keystore.password=\n"
        "# ssl.key.password=\n"
        "# ssl.key.alias=\n"
        "# ssl.alpn=false\n"
        "# ssl.verify.host=true\n"
    )
