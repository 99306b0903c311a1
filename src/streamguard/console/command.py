"""`streamguard console`: the web console served with hypercorn until SIGTERM or Ctrl-C."""

from __future__ import annotations

import asyncio
import logging
import signal
import socket
from pathlib import Path
from typing import Annotated

import typer

from streamguard import terminal
from streamguard.settings import get_settings

DEFAULT_PORT = 8090
err = terminal.stderr


def console_command(
    host: Annotated[
        str, typer.Option(help="Address to listen on (0.0.0.0 to be reachable from elsewhere).")
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=0, max=65535, help="Port to listen on.")] = DEFAULT_PORT,
    rules_dir: Annotated[
        Path,
        typer.Option(help="The rule files the Rules page shows.", exists=True, file_okay=False),
    ] = Path("ksql"),
    grafana_url: Annotated[
        str | None,
        typer.Option(
            help="Grafana's StreamGuard dashboard, linked from every page "
            "\\[default: STREAMGUARD_GRAFANA_URL, or no link].",
            show_default=False,
        ),
    ] = None,
    backtest_report: Annotated[
        Path | None,
        typer.Option(
            help="A backtest report (JSON) whose per-rule figures the Rules page shows "
            "\\[default: STREAMGUARD_BACKTEST_REPORT, or none].",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Serve the web console: alerts, rules, the pipeline, a ksqlDB SQL editor, the blacklist.

    It reads PostgreSQL, Kafka and ksqlDB at the addresses every command uses (settings, or the
    local stack's state) and writes only through the SQL page and the blacklist page.
    """
    from hypercorn.asyncio import serve
    from hypercorn.config import Config

    from streamguard.console.app import ConsoleConfig, create_app

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    # A line per request to ksqlDB says nothing an operator needs.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    settings = get_settings()
    app = create_app(
        ConsoleConfig(
            settings=settings,
            rules_dir=rules_dir,
            grafana_url=grafana_url or settings.grafana_url,
            backtest_report=backtest_report or settings.backtest_report,
        )
    )
    # The socket is bound here, not by hypercorn: a taken port is one line, said before the
    # console says where it serves, not a page of tracebacks after it.
    try:
        listener = socket.create_server((host, port), family=_family(host))
    except OSError as exc:
        err.print(f"[red]error:[/red] cannot listen on {host}:{port}: {exc.strerror or exc}")
        raise typer.Exit(1) from None
    bound = listener.getsockname()[1]
    config = Config()
    # Hypercorn owns the socket from here, and closes it when it stops.
    config.bind = [f"fd://{listener.detach()}"]
    config.accesslog = None
    # Hypercorn's "Running on ..." (twice: its handler, then the root logger's) repeats ours.
    config.loglevel = "WARNING"
    # Server-sent events of a push query may stay quiet for a long time.
    config.keep_alive_timeout = 3600
    config.graceful_timeout = 2.0

    async def run() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        shown = "127.0.0.1" if host == "0.0.0.0" else host
        err.print(f"StreamGuard console on http://{shown}:{bound}", highlight=False)
        await serve(app, config, shutdown_trigger=stop.wait)  # type: ignore[arg-type]

    asyncio.run(run())


def _family(host: str) -> socket.AddressFamily:
    return socket.AF_INET6 if ":" in host else socket.AF_INET
