"""The `ksql-emulator` command: a ksqlDB-compatible server over a real Kafka cluster."""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import logging
import os
import signal
import socket
import sys
from collections.abc import Sequence
from pathlib import Path

from ksql_emulator.app.collector import tune_garbage_collector
from ksql_emulator.app.config import ConfigError, parse_define, parse_listener, read_properties
from ksql_emulator.app.emulator import Emulator, EmulatorSettings
from ksql_emulator.app.query_processes import process_count
from ksql_emulator.errors import KsqlError
from ksql_emulator.server.asgi import create_app
from ksql_emulator.server.serving import listening_socket, serve_forever

__all__ = ["main", "settings_from_args"]

log = logging.getLogger("ksql_emulator")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ksql-emulator",
        description="Serve ksqlDB's REST API (HTTP/1.1 and h2c) over a real Kafka cluster.",
    )
    parser.add_argument(
        "config_file_positional",
        nargs="?",
        metavar="CONFIG_FILE",
        help="ksql-server.properties (as ksql-server-start takes it)",
    )
    parser.add_argument("--config-file", help="ksql-server.properties style file")
    parser.add_argument("--bootstrap-servers", help="Kafka bootstrap servers (bootstrap.servers)")
    parser.add_argument("--listeners", help="listener URL (listeners); http://127.0.0.1:8088")
    parser.add_argument(
        "--listener-fd",
        type=int,
        metavar="FD",
        help="serve on this inherited listening socket (its port is the listener's): whoever "
        "starts the server holds the port, so nothing can take it meanwhile",
    )
    parser.add_argument("--state-dir", help="state directory (ksql.streams.state.dir)")
    parser.add_argument("--service-id", help="service id (ksql.service.id); default_")
    parser.add_argument(
        "-D",
        dest="defines",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a server property; repeatable",
    )
    parser.add_argument("--log-level", default="INFO", help="logging level (INFO)")
    return parser


def settings_from_args(argv: Sequence[str]) -> EmulatorSettings:
    """Settings from the command line: flags beat -D, which beats the config file."""
    args = _parser().parse_args(list(argv))
    properties: dict[str, str] = {}
    config_file = args.config_file or args.config_file_positional
    if config_file:
        properties.update(read_properties(Path(config_file)))
    for define in args.defines:
        key, value = parse_define(define)
        properties[key] = value
    if args.bootstrap_servers:
        properties["bootstrap.servers"] = args.bootstrap_servers
    if args.listeners:
        properties["listeners"] = args.listeners
    if args.state_dir:
        properties["ksql.streams.state.dir"] = args.state_dir
    if args.service_id:
        properties["ksql.service.id"] = args.service_id
    bootstrap = (
        properties.get("bootstrap.servers")
        or properties.get("ksql.streams.bootstrap.servers")
        or os.environ.get("KAFKA_BOOTSTRAP_SERVERS")
        or "localhost:9092"
    )
    host, port = parse_listener(properties.get("listeners", "http://127.0.0.1:8088"))
    process_count(properties)  # a bad count is named before anything starts
    state_dir = properties.get("ksql.streams.state.dir")
    if state_dir:
        Path(state_dir).mkdir(parents=True, exist_ok=True)
    return EmulatorSettings(
        bootstrap_servers=bootstrap,
        host=host,
        port=port,
        service_id=properties.get("ksql.service.id", "default_"),
        properties=properties,
    )


async def _serve(emulator: Emulator, sock: socket.socket) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    settings = emulator.settings
    log.info("serving ksqlDB's REST API on http://%s:%d", settings.host, settings.port)
    await serve_forever(create_app(emulator.state), settings.host, settings.port, stop, sock)


def _listening(settings: EmulatorSettings, fd: int | None) -> socket.socket:
    """The socket to serve on: the inherited one, else one bound to the listener's port (0:
    a free one), before the engine starts, so a taken port fails fast and the server reports
    the port it really serves."""
    if fd is not None:
        try:
            return socket.socket(fileno=fd)
        except OSError as exc:
            raise ConfigError(f"--listener-fd {fd} is no socket: {exc.strerror}") from None
    try:
        return listening_socket(settings.host, settings.port)
    except OSError as exc:
        raise ConfigError(
            f"cannot listen on {settings.host}:{settings.port}: {exc.strerror}"
        ) from None


def main(argv: Sequence[str] | None = None) -> int:
    """Runs the server until SIGINT/SIGTERM; returns the exit status."""
    argv = sys.argv[1:] if argv is None else argv
    try:
        settings = settings_from_args(argv)
    except ConfigError as exc:
        print(f"ksql-emulator: {exc}", file=sys.stderr)
        return 2
    args = _parser().parse_known_args(list(argv))[0]
    logging.basicConfig(
        level=args.log_level.upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    try:
        sock = _listening(settings, args.listener_fd)
    except ConfigError as exc:
        print(f"ksql-emulator: {exc}", file=sys.stderr)
        return 2
    settings = dataclasses.replace(settings, port=int(sock.getsockname()[1]))
    tune_garbage_collector()
    try:
        emulator = Emulator(settings).start()
    except (KsqlError, OSError) as exc:
        sock.close()
        print(f"ksql-emulator: cannot start: {exc}", file=sys.stderr)
        return 1
    try:
        asyncio.run(_serve(emulator, sock))
    finally:
        emulator.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
