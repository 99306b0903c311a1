"""The console's Starlette application: a route per page, each rendered on the server."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import quote

import sqlalchemy as sa
from markupsafe import Markup
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import (
    HTMLResponse,
    PlainTextResponse,
    RedirectResponse,
    Response,
)
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.templating import Jinja2Templates

from streamguard import blacklist as bl
from streamguard import db, monitor, stack
from streamguard.console import alerts, charts, pipeline, push, rules, sql
from streamguard.console.same_origin import SameOrigin
from streamguard.ksqldb import KsqlClient, KsqlConnectionError, KsqlError
from streamguard.models import BlacklistKind, Severity
from streamguard.settings import Settings

__all__ = ["ConsoleConfig", "create_app"]

log = logging.getLogger(__name__)
HERE = Path(__file__).parent
T = TypeVar("T")


@dataclass(frozen=True)
class ConsoleConfig:
    """Where the console finds the pipeline, and what it links to."""

    settings: Settings
    rules_dir: Path = Path("ksql")
    grafana_url: str | None = None
    backtest_report: Path | None = None
    # How long a page waits for ksqlDB to describe the pipeline before it says it did not
    # answer (a ksqlDB whose Kafka is down took 30 s to fail the Rules page's lookups). The SQL
    # page's statements wait as long as the client does.
    view_timeout_s: float = 5.0


def _attempt(work: Callable[[], T], what: str) -> tuple[T | None, str | None]:
    """`work()`, or None and a message naming `what` failed and why, for the page to show."""
    try:
        return work(), None
    except (sa.exc.SQLAlchemyError, KsqlError, pipeline.PipelineError, OSError) as exc:
        return None, f"{what}: {db.error_line(exc)}"


def _utc(moment: datetime | None) -> str:
    """A time as the pages write it: UTC, to the millisecond."""
    if moment is None:
        return ""
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")[:-3]


# How long the alerts page waits for Kafka to count the dead letters: a glance, not a wait.
_GLANCE_S = 1.0


def _alert_chart(series: dict[str, list[tuple[datetime, int]]] | None, error: str | None) -> Markup:
    """The alerts-per-minute chart, or in its place why there are no figures."""
    return charts.stacked_bars(
        series or {},
        title="alerts first seen per minute in the last hour (UTC), by rule",
        empty=error or "no alerts in this time",
    )


def _list_status(error: str | None) -> int:
    """The alert list's status: 400 for a bad filter; a PostgreSQL that does not answer is
    said on the page (and in the rows the page refreshes), which still shows."""
    return 400 if error and "PostgreSQL" not in error else 200


class Console:
    """The pages, over one configuration and one database engine."""

    def __init__(self, config: ConsoleConfig) -> None:
        self.config = config
        self.settings = config.settings
        self.templates = Jinja2Templates(directory=HERE / "templates")
        self.templates.env.globals["grafana_url"] = config.grafana_url
        self.templates.env.filters["cell"] = sql.cell
        self.templates.env.filters["utc"] = _utc
        self._engine: sa.Engine | None = None

    @property
    def engine(self) -> sa.Engine:
        if self._engine is None:
            self._engine = db.create_engine(self.settings.database)
        return self._engine

    def ksql(self, *, viewing: bool = False) -> KsqlClient:
        """A client of ksqlDB; `viewing`: for a page that shows the pipeline, so it gives up
        sooner."""
        timeout = self.config.view_timeout_s if viewing else None
        return KsqlClient(self.settings.ksqldb, timeout=timeout)

    def page(
        self, request: Request, name: str, context: dict[str, Any], status: int = 200
    ) -> HTMLResponse:
        response = self.templates.TemplateResponse(
            request, name, {"page": name.removesuffix(".html"), **context}, status_code=status
        )
        assert isinstance(response, HTMLResponse)
        return response

    # -- alerts ---------------------------------------------------------------------------

    def _alert_list(self, params: dict[str, str]) -> dict[str, Any]:
        known, error = _attempt(lambda: alerts.rule_ids(self.engine), "PostgreSQL")
        known_rules = sorted(set(known or []) | {r.rule_id for r in self._rules()})
        context: dict[str, Any] = {
            "params": params,
            "rules": known_rules,
            "severities": [s.value for s in Severity],
            "since_choices": alerts.SINCE,
            "limits": alerts.LIMITS,
            "rows": [],
            "error": error,
        }
        if error:
            return context
        try:
            flt = alerts.AlertFilter.from_query(params, known_rules)
        except alerts.FilterError as exc:
            context["error"] = str(exc)
            return context
        rows, context["error"] = _attempt(lambda: alerts.latest(self.engine, flt), "PostgreSQL")
        context["rows"] = rows or []
        context["limit"] = flt.limit
        if rows is not None and len(rows) == flt.limit:
            # A full page: how many there are, so that the list does not pass for all of them.
            context["matching"], _ = _attempt(lambda: alerts.matching(self.engine, flt), "")
        return context

    def _rules(self) -> list[rules.Rule]:
        try:
            return rules.read_rules(self.config.rules_dir)
        except OSError:
            return []

    async def alerts_page(self, request: Request) -> Response:
        params = dict(request.query_params)
        context = await run_in_threadpool(self._alert_list, params)
        series, chart_error = await run_in_threadpool(self._chart_series, params)
        context["chart"] = _alert_chart(series, chart_error)
        context["error"] = context["error"] or chart_error
        context["warnings"] = await run_in_threadpool(self._alert_warnings)
        return self.page(request, "alerts.html", context, _list_status(context["error"]))

    def _alert_warnings(self) -> list[tuple[str, str | None]]:
        """What keeps alerts from this page: the local stack's consumer not running, alerts
        it could not write (the dead-letter topic), each with a page that shows more. Not a word
        when either cannot be told."""
        warnings: list[tuple[str, str | None]] = []
        # The consumer's process only: the whole stack's status asks every server (a quarter
        # of a second on each load of this page).
        for consumer in stack.status(self.settings.state_dir, only=("consumer",)):
            if consumer.health not in ("died", "stopped"):
                continue
            how = "died" if consumer.health == "died" else "been stopped"
            warnings.append(
                (
                    f"the consumer has {how}: new alerts are not written to PostgreSQL "
                    "(./start.sh starts it again)",
                    "/pipeline",
                )
            )
        topic = self.settings.dlq_topic
        dead, _ = _attempt(
            lambda: pipeline.Kafka(self.settings.kafka).message_count(topic, _GLANCE_S), ""
        )
        if dead:
            warnings.append(
                (
                    f"{dead:,} message(s) in the dead-letter topic {topic}: alerts the consumer "
                    "could not write, each with its reason",
                    f"/pipeline/topics/{quote(topic)}",
                )
            )
        return warnings

    def _chart_series(
        self, params: dict[str, str]
    ) -> tuple[dict[str, list[tuple[datetime, int]]] | None, str | None]:
        """The chart's counts: the last hour's, of the rule the list is filtered by if any."""
        rule = params.get("rule", "").strip() or None
        return _attempt(lambda: alerts.per_minute(self.engine, minutes=60, rule=rule), "PostgreSQL")

    async def alert_chart(self, request: Request) -> Response:
        series, error = await run_in_threadpool(self._chart_series, dict(request.query_params))
        return HTMLResponse(str(_alert_chart(series, error)))

    async def alert_rows(self, request: Request) -> Response:
        context = await run_in_threadpool(self._alert_list, dict(request.query_params))
        return self.page(request, "_alert_rows.html", context, _list_status(context["error"]))

    async def alert_detail(self, request: Request) -> Response:
        alert_id = request.path_params["alert_id"]
        found, error, status = None, None, 200
        if "\x00" not in alert_id:  # no id holds one, and PostgreSQL takes no NUL in a text
            found, error = await run_in_threadpool(
                _attempt, lambda: alerts.detail(self.engine, alert_id), "PostgreSQL"
            )
        if error is not None:
            status = 503  # not looked for: the alert may well be there
        elif found is None:
            error, status = f"no alert with id {alert_id!r}", 404
        return self.page(
            request, "alert.html", {"alert_id": alert_id, "alert": found, "error": error}, status
        )

    # -- rules ----------------------------------------------------------------------------

    def _rules_context(self) -> dict[str, Any]:
        errors: list[str] = []
        try:
            found = rules.read_rules(self.config.rules_dir)
        except OSError as exc:
            return {
                "rules": [],
                "errors": [f"cannot read the rules in {self.config.rules_dir}: {exc}"],
            }
        with self.ksql(viewing=True) as client:
            messages = [
                rules.add_migration_states(found, client, self.config.rules_dir),
                rules.add_query_states(found, client),
            ]
        errors += [m for m in messages if m]
        message = rules.add_backtest(found, self.config.backtest_report)
        if message:
            errors.append(message)
        found_series, error = _attempt(
            lambda: alerts.per_minute(self.engine, minutes=60), "PostgreSQL"
        )
        if error:
            errors.append(error)
        series = found_series or {}
        charts_by_rule = {
            r.rule_id: charts.stacked_bars(
                {r.rule_id: series[r.rule_id]} if r.rule_id in series else {},
                height=120,
                title=f"{r.rule_id}: alerts per minute",
                empty=error or "no alerts in this time",
            )
            for r in found
        }
        # None where the counts could not be read: a 0 would say the rule found nothing.
        totals = (
            None if error else {rule: sum(n for _, n in points) for rule, points in series.items()}
        )
        return {"rules": found, "errors": errors, "charts": charts_by_rule, "totals": totals}

    async def rules_page(self, request: Request) -> Response:
        context = await run_in_threadpool(self._rules_context)
        return self.page(request, "rules.html", context)

    # -- pipeline -------------------------------------------------------------------------

    def _pipeline_context(self) -> dict[str, Any]:
        settings = self.settings
        kafka = pipeline.Kafka(settings.kafka)
        errors: list[str] = []
        checks = monitor.health(settings)
        recorded = settings.stack_state()
        parts = stack.status(settings.state_dir) if recorded else []
        metrics_urls = {
            name: str(part["extra"]["metrics_url"])
            for name, part in recorded.items()
            if isinstance(part, dict) and part.get("extra", {}).get("metrics_url")
        }
        kafka_up = any(h.part == "kafka" and h.healthy for h in checks)
        topics: list[pipeline.TopicInfo] = []
        groups: list[pipeline.GroupLag] = []
        if kafka_up:
            found_topics, error = _attempt(kafka.topics, "Kafka")
            topics = found_topics or []
            found_groups, error2 = _attempt(kafka.groups, "Kafka")
            groups = found_groups or []
            errors += [e for e in (error, error2) if e]
        with self.ksql(viewing=True) as client:
            sources, error = _attempt(lambda: pipeline.ksql_sources(client), "ksqlDB")
        if error:
            errors.append(error)
        return {
            "checks": checks,
            "parts": parts,
            "metrics_urls": metrics_urls,
            "topics": topics,
            "groups": groups,
            "sources": sources,
            "errors": errors,
        }

    async def pipeline_page(self, request: Request) -> Response:
        context = await run_in_threadpool(self._pipeline_context)
        return self.page(request, "pipeline.html", context)

    async def topic_page(self, request: Request) -> Response:
        topic = request.path_params["topic"]
        try:
            count = max(1, min(int(request.query_params.get("n") or 20), 500))
        except ValueError:
            count = 20
        kafka = pipeline.Kafka(self.settings.kafka)
        messages, error = await run_in_threadpool(
            _attempt, lambda: kafka.last_messages(topic, count), "Kafka"
        )
        return self.page(
            request,
            "topic.html",
            {"topic": topic, "count": count, "messages": messages or [], "error": error},
            404 if error and "no topic named" in error else 200,
        )

    # -- SQL ------------------------------------------------------------------------------

    async def sql_page(self, request: Request) -> Response:
        context: dict[str, Any] = {
            "text": "",
            "kind": None,
            "tables": [],
            "error": None,
            "from_start": True,
        }
        status = 200
        if request.method == "POST":
            form = await request.form()
            text = str(form.get("sql") or "")
            context["text"] = text
            context["from_start"] = bool(form.get("from_start"))
            reset = "earliest" if context["from_start"] else "latest"
            try:
                kind = sql.kind_of(text)
                context["kind"] = kind
                if kind == "pull":
                    table = await run_in_threadpool(self._with_client, sql.run_pull, text)
                    context["tables"] = [table]
                elif kind == "statement":
                    context["tables"] = await run_in_threadpool(
                        self._with_client,
                        lambda client, text: sql.run_statements(client, text, reset=reset),
                        text,
                    )
            except (sql.SqlInputError, KsqlError) as exc:
                context["error"] = str(exc)
                # A server that does not answer is not the statement's fault.
                status = 503 if isinstance(exc, KsqlConnectionError) else 400
        return self.page(request, "sql.html", context, status)

    def _with_client(self, work: Callable[[KsqlClient, str], T], text: str) -> T:
        with self.ksql() as client:
            return work(client, text)

    async def sql_push(self, request: Request) -> Response:
        text = request.query_params.get("sql", "")
        reset = "latest" if request.query_params.get("reset") == "latest" else "earliest"
        return push.EventStream(push.relay(self.ksql(), text, reset))

    async def sql_close(self, request: Request) -> Response:
        form = await request.form()
        query_id = str(form.get("queryId") or "")
        if query_id:
            with self.ksql() as client:
                await run_in_threadpool(_close_quietly, client, query_id)
        return PlainTextResponse("closed")

    # -- blacklist ------------------------------------------------------------------------

    async def blacklist_page(self, request: Request) -> Response:
        message, error, status = None, None, 200
        if request.method == "POST":
            form = await request.form()
            action = str(form.get("action") or "")
            try:
                message = await self._blacklist_action(action, form)
            except bl.BlacklistError as exc:
                error, status = str(exc), 400
            except sa.exc.SQLAlchemyError as exc:
                error, status = f"PostgreSQL: {db.error_line(exc)}", 503
        show_all = request.query_params.get("all") == "1"
        entries, list_error = await run_in_threadpool(
            _attempt, lambda: bl.entries(self.engine, include_expired=show_all), "PostgreSQL"
        )
        return self.page(
            request,
            "blacklist.html",
            {
                "entries": entries or [],
                "kinds": [k.value for k in BlacklistKind],
                "message": message,
                "error": error or list_error,
                "show_all": show_all,
            },
            status,
        )

    async def _blacklist_action(self, action: str, form: Any) -> str:
        def field(name: str) -> str:
            value = form.get(name)
            return value.strip() if isinstance(value, str) else ""

        if action == "add":
            kind = _kind(field("kind"))
            entry = bl.Entry(
                kind,
                field("value"),
                field("reason"),
                field("added_by") or "console",
                expires_at=bl.expiry(field("expires") or None, field("expires_in") or None),
            )
            written = await run_in_threadpool(bl.add, self.engine, [entry])
            return bl.added_text(kind, entry.value, written)
        if action == "remove":
            kind = _kind(field("kind"))
            removed = await run_in_threadpool(bl.remove, self.engine, kind, field("value"))
            if not removed:
                shown = bl.normalise(kind, field("value"))
                raise bl.BlacklistError(f"no blacklist entry for {kind.value} {shown}")
            return f"removed {kind.value} {bl.normalise(kind, field('value'))}"
        if action == "import":
            upload = form.get("file")
            if not isinstance(upload, UploadFile) or not upload.filename:
                raise bl.BlacklistError("choose a CSV file to import")
            raw = await upload.read()
            try:
                text = raw.decode("utf-8-sig")
            except UnicodeDecodeError:
                raise bl.BlacklistError(f"{upload.filename}: not UTF-8 text") from None
            entries = bl.parse_csv(
                text.splitlines(), source=upload.filename, added_by=field("added_by") or "console"
            )
            if not entries:
                raise bl.BlacklistError(f"{upload.filename}: no entries under the header line")
            written = await run_in_threadpool(bl.add, self.engine, entries)
            return f"imported {written.total} entries from {upload.filename}{written.replacing()}"
        raise bl.BlacklistError(f"unknown action {action!r}")

    # -- plumbing -------------------------------------------------------------------------

    async def healthz(self, _request: Request) -> Response:
        return PlainTextResponse("ok")

    async def not_found(self, request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        return self.page(
            request, "error.html", {"error": exc.detail or "not found"}, exc.status_code
        )

    async def failed(self, request: Request, exc: Exception) -> Response:
        # The trace goes to the log, never to the page.
        log.exception("%s %s failed", request.method, request.url.path, exc_info=exc)
        first = (str(exc).strip().splitlines() or [""])[0]
        return self.page(
            request,
            "error.html",
            {"error": f"the console could not show this page: {type(exc).__name__}: {first}"},
            500,
        )

    def close(self) -> None:
        if self._engine is not None:
            self._engine.dispose()


def _kind(text: str) -> BlacklistKind:
    try:
        return BlacklistKind(text.lower())
    except ValueError:
        raise bl.BlacklistError(
            f"kind {text!r} is not one of {', '.join(k.value for k in BlacklistKind)}"
        ) from None


def _close_quietly(client: KsqlClient, query_id: str) -> None:
    try:
        client.close_query(query_id)
    except KsqlError as exc:  # the page's own stream closed it first, or it ended by itself
        log.debug("closing push query %s: %s", query_id, exc)
    else:
        # The Stop button and the page's stream both close the query; whichever does, says so.
        log.info("push query %s closed", query_id)


def create_app(config: ConsoleConfig) -> Starlette:
    """The console over `config` (serve it with hypercorn: `streamguard console`)."""
    console = Console(config)

    async def home(_request: Request) -> Response:
        return RedirectResponse("/alerts")

    routes = [
        Route("/", home),
        Route("/alerts", console.alerts_page),
        Route("/alerts/rows", console.alert_rows),
        Route("/alerts/chart", console.alert_chart),
        Route("/alerts/{alert_id:path}", console.alert_detail),
        Route("/rules", console.rules_page),
        Route("/pipeline", console.pipeline_page),
        Route("/pipeline/topics/{topic:path}", console.topic_page),
        Route("/sql", console.sql_page, methods=["GET", "POST"]),
        Route("/sql/push", console.sql_push),
        Route("/sql/close", console.sql_close, methods=["POST"]),
        Route("/blacklist", console.blacklist_page, methods=["GET", "POST"]),
        Route("/healthz", console.healthz),
        Mount("/static", StaticFiles(directory=HERE / "static"), name="static"),
    ]

    @contextlib.asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        yield
        console.close()

    app = Starlette(
        routes=routes,
        exception_handlers={HTTPException: console.not_found, Exception: console.failed},
        middleware=[Middleware(SameOrigin)],
        lifespan=lifespan,
    )
    app.state.console = console
    return app
