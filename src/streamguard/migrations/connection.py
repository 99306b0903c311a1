"""How the runner reaches its server: ksql-migrations' `ssl.*`, `ksql.auth.basic.*` and
`bearer.auth.*` settings and `apply --headers`, turned into one ksqlDB client."""

from __future__ import annotations

import ssl
from collections.abc import Mapping
from pathlib import Path

import httpx

from streamguard import properties
from streamguard.ksqldb import KsqlClient
from streamguard.migrations.config import MigrationConfig
from streamguard.migrations.errors import ConfigError

SSL_TRUSTSTORE_LOCATION = "ssl.truststore.location"
SSL_TRUSTSTORE_PASSWORD = "ssl.truststore.password"
SSL_KEYSTORE_LOCATION = "ssl.keystore.location"
SSL_KEYSTORE_PASSWORD = "ssl.keystore.password"
SSL_KEY_PASSWORD = "ssl.key.password"
SSL_KEY_ALIAS = "ssl.key.alias"
SSL_ALPN = "ssl.alpn"
SSL_VERIFY_HOST = "ssl.verify.host"
BEARER_ISSUER_ENDPOINT_URL = "bearer.auth.issuer.endpoint.url"
BEARER_CLIENT_ID = "bearer.auth.client.id"
BEARER_CLIENT_SECRET = "bearer.auth.client.secret"
BEARER_SCOPE = "bearer.auth.scope"

_JAVA_STORE_SUFFIXES = (".jks", ".p12", ".pfx", ".pkcs12")


def open_client(config: MigrationConfig) -> KsqlClient:
    """A client for the configured server, with its TLS, authentication and extra headers."""
    settings = config.extra
    request_headers = dict(config.headers)
    token = bearer_token(settings)
    if token is not None:
        request_headers["Authorization"] = f"Bearer {token}"
    return KsqlClient(
        config.server_url,
        auth=config.basic_auth,
        headers=request_headers,
        verify=ssl_context(settings) if config.server_url.startswith("https:") else True,
        http2=_flag(settings, SSL_ALPN, False) or None,
    )


def read_headers(path: Path) -> dict[str, str]:
    """`apply --headers FILE`: extra request headers, one `Name: value` (or `Name=value`) a line,
    read as a properties file as ksql-migrations reads it."""
    try:
        return properties.read_properties(path)
    except properties.PropertiesError as exc:
        raise ConfigError(f"cannot read the headers file: {exc}") from None


def ssl_context(settings: Mapping[str, str]) -> ssl.SSLContext:
    """TLS as `ssl.*` asks: a trust store of CA certificates, a client key store for mutual
    TLS, host name verification on unless `ssl.verify.host=false`.

    Python reads PEM stores; a Java key store (JKS or PKCS12) is named with the `keytool`/
    `openssl` command that converts it, rather than failing deep inside the TLS handshake.
    """
    context = ssl.create_default_context()
    truststore = settings.get(SSL_TRUSTSTORE_LOCATION, "").strip()
    if truststore:
        _require_pem(truststore, SSL_TRUSTSTORE_LOCATION)
        try:
            context.load_verify_locations(cafile=truststore)
        except (OSError, ssl.SSLError) as exc:
            raise ConfigError(f"{SSL_TRUSTSTORE_LOCATION}={truststore}: {exc}") from None
    keystore = settings.get(SSL_KEYSTORE_LOCATION, "").strip()
    if keystore:
        _require_pem(keystore, SSL_KEYSTORE_LOCATION)
        password = settings.get(SSL_KEY_PASSWORD) or settings.get(SSL_KEYSTORE_PASSWORD) or None
        try:
            context.load_cert_chain(certfile=keystore, password=password)
        except (OSError, ssl.SSLError) as exc:
            raise ConfigError(f"{SSL_KEYSTORE_LOCATION}={keystore}: {exc}") from None
    if not _flag(settings, SSL_VERIFY_HOST, True):
        context.check_hostname = False
    return context


def bearer_token(settings: Mapping[str, str]) -> str | None:
    """An OAuth access token from `bearer.auth.issuer.endpoint.url` by the client-credentials
    grant, as ksql-migrations gets one; None when no issuer is configured."""
    issuer = settings.get(BEARER_ISSUER_ENDPOINT_URL, "").strip()
    if not issuer:
        return None
    client_id = settings.get(BEARER_CLIENT_ID, "").strip()
    secret = settings.get(BEARER_CLIENT_SECRET, "")
    if not client_id or not secret:
        raise ConfigError(
            f"{BEARER_ISSUER_ENDPOINT_URL} is set, so {BEARER_CLIENT_ID} and "
            f"{BEARER_CLIENT_SECRET} must be too"
        )
    form = {"grant_type": "client_credentials"}
    scope = settings.get(BEARER_SCOPE, "").strip()
    if scope:
        form["scope"] = scope
    try:
        response = httpx.post(issuer, data=form, auth=(client_id, secret), timeout=30)
    except httpx.HTTPError as exc:
        raise ConfigError(f"could not get a token from {issuer}: {exc}") from None
    if response.status_code != 200:
        raise ConfigError(
            f"{issuer} refused the client credentials ({response.status_code}): "
            f"{response.text[:200]}"
        )
    try:
        token = response.json()["access_token"]
    except (ValueError, KeyError, TypeError):
        raise ConfigError(f"{issuer} answered without an access_token") from None
    return str(token)


def _require_pem(path: str, setting: str) -> None:
    if path.lower().endswith(_JAVA_STORE_SUFFIXES):
        raise ConfigError(
            f"{setting}={path} is a Java key store; convert it to PEM once, e.g. "
            f"`keytool -importkeystore -srckeystore {path} -destkeystore store.p12 "
            "-deststoretype PKCS12` then `openssl pkcs12 -in store.p12 -out store.pem`, "
            f"and set {setting} to the .pem"
        )


def _flag(settings: Mapping[str, str], name: str, default: bool) -> bool:
    value = settings.get(name, "").strip().lower()
    if not value:
        return default
    if value not in ("true", "false"):
        raise ConfigError(f"{name} must be true or false, not {value!r}")
    return value == "true"
