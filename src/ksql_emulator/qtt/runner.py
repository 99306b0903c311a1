"""Runs one QTT test variant on a fresh engine, without Kafka, and judges the outcome."""

from __future__ import annotations

import json
import math
import re
import signal
import traceback
from collections.abc import Collection, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from ksql_emulator.catalog import Source
from ksql_emulator.errors import KsqlError, ParseError, is_java_subtype
from ksql_emulator.qtt.loader import Variant
from ksql_emulator.runtime.formats import key_serde, value_serde
from ksql_emulator.runtime.message import Message

__all__ = [
    "Outcome",
    "TestTimeout",
    "compare_outputs",
    "feed_inputs",
    "run_variant",
    "written_records",
]


@dataclass
class Outcome:
    status: str  # passed, failed, skipped
    reason: str = ""


class TestTimeout(Exception):
    pass


@contextmanager
def _time_limit(seconds: float) -> Iterator[None]:
    def on_alarm(signum: int, frame: Any) -> None:
        raise TestTimeout(f"took longer than {seconds:g}s")

    try:
        previous = signal.signal(signal.SIGALRM, on_alarm)
    except ValueError:  # not the main thread: run without a limit
        yield
        return
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def run_variant(variant: Variant, registry: Any, time_limit_s: float = 10.0) -> Outcome:
    """Run `variant`; every engine error becomes a failed outcome with its reason."""
    if variant.skip_reason:
        return Outcome("skipped", variant.skip_reason)
    try:
        with _time_limit(time_limit_s):
            if "rest-query-validation-tests" in variant.file:
                from ksql_emulator.qtt.rest import run_rest

                status, reason = run_rest(variant, registry)
                return Outcome(status, reason)
            return _run(variant, registry)
    except TestTimeout as err:
        return Outcome("failed", f"timeout: {err}")
    except Exception as err:  # an engine bug fails the test, never the run
        tb = traceback.extract_tb(err.__traceback__)[-1]
        return Outcome(
            "failed",
            f"engine error {type(err).__name__}: {err} ({tb.filename.split('/')[-1]}:{tb.lineno})",
        )


def _run(variant: Variant, registry: Any) -> Outcome:
    from ksql_emulator.engine import Engine

    test = variant.test
    engine = Engine(registry=registry, properties=dict(variant.properties))
    for topic in test.get("topics", []):
        name = topic.get("name")
        if name:
            engine.catalog.ensure_topic(name, int(topic.get("partitions", 1) or 1))
            engine.broker.create_topic(name, int(topic.get("partitions", 1) or 1))
    expected_error = test.get("expectedException")
    sql = "\n".join(variant.statements)
    try:
        engine.execute(sql)
        feed_inputs(engine, test.get("inputs", []))
    except KsqlError as err:
        if expected_error is None:
            kind = "parse error" if isinstance(err, ParseError) else err.ksql_type
            return Outcome("failed", f"unexpected {kind}: {err.message}")
        return _judge_error(err, expected_error)
    if expected_error is not None:
        return Outcome(
            "failed",
            f"expected {expected_error.get('type', '?').split('.')[-1]}: "
            f"{expected_error.get('message', '')!r} but nothing failed",
        )
    problems = compare_outputs(engine, test.get("outputs", []))
    problems += _check_post(engine, test.get("post", {}))
    if problems:
        return Outcome("failed", "; ".join(problems[:3]))
    return Outcome("passed")


def _judge_error(err: KsqlError, expected: dict[str, Any]) -> Outcome:
    want_type = str(expected.get("type", "")).split(".")[-1]
    want_message = str(expected.get("message", ""))
    if want_type and not is_java_subtype(err.ksql_type, want_type):
        return Outcome("failed", f"expected {want_type} but got {err.ksql_type}: {err.message}")
    if want_message not in err.with_statement():
        return Outcome(
            "failed",
            f"expected message containing {want_message!r} but got {err.with_statement()!r}",
        )
    return Outcome("passed")


def _topic_source(engine: Any, topic: str) -> Source | None:
    sources: list[Source] = list(engine.catalog.sources.values())
    for source in sources:
        if source.topic == topic:
            return source
    return None


def feed_inputs(engine: Any, inputs: list[dict[str, Any]]) -> None:
    """Produce test records (QTT's `inputs` shape) to the engine's in-memory topics, in order."""
    engine.input_offsets = {}
    # A topic's serdes are made once: a serde compiles its schema's decoders and templates.
    serdes: dict[str, tuple[Any, Any]] = {}
    for rec in inputs:
        topic = rec["topic"]
        pair = serdes.get(topic)
        if pair is None:
            source = _topic_source(engine, topic)
            if source is None:
                raise KsqlError(f"no stream or table reads input topic {topic!r}")
            pair = serdes[topic] = (key_serde(source), value_serde(source))
        key = _encode(pair[0], rec.get("key"))
        value = _encode(pair[1], rec.get("value"))
        headers = tuple(
            (h.get("KEY", h.get("key")), _header_bytes(h.get("VALUE", h.get("value"))))
            for h in rec.get("headers", []) or []
        )
        window = rec.get("window")
        msg = Message(
            topic,
            key,
            value,
            int(rec.get("timestamp", 0) or 0),
            int(rec.get("partition", 0) or 0),
            0,
            headers,
            (int(window["start"]), int(window["end"])) if window else None,
        )
        before = len(engine.broker.topics.get(topic, []))
        engine.broker.produce(msg)
        engine.input_offsets.setdefault(topic, set()).add(before)


def _header_bytes(value: Any) -> bytes | None:
    if value is None:
        return None
    import base64

    return base64.b64decode(value)


def _encode(serde: Any, test_value: Any) -> bytes | None:
    if test_value is None:
        return None
    data: bytes | None = serde.from_test_value(test_value)
    return data


def _decode(serde: Any, data: bytes | None) -> Any:
    if data is None:
        return None
    return serde.bytes_to_test_value(data)


def compare_outputs(engine: Any, outputs: list[dict[str, Any]]) -> list[str]:
    """What differs between the records the queries wrote and `outputs` (QTT's shape)."""
    expected_by_topic: dict[str, list[dict[str, Any]]] = {}
    for rec in outputs:
        expected_by_topic.setdefault(rec["topic"], []).append(rec)
    problems: list[str] = []
    for topic, expected in expected_by_topic.items():
        inputs = engine.input_offsets.get(topic, set())
        actual = [m for m in engine.broker.topics.get(topic, []) if m.offset not in inputs]
        source = _topic_source_for_output(engine, topic)
        if source is None and expected:
            problems.append(f"no source writes topic {topic!r}")
            continue
        serdes = (key_serde(source), value_serde(source)) if source is not None else None
        shown = [_shown(engine, source, m, serdes) for m in actual]
        for i, exp in enumerate(expected):
            if i >= len(shown):
                problems.append(
                    f"{topic}: expected {len(expected)} records but got {len(shown)}; "
                    f"missing #{i}: {_brief(exp)}"
                )
                break
            got = shown[i]
            if not _same(exp.get("key"), got["key"]) or not _same(exp.get("value"), got["value"]):
                problems.append(f"{topic} #{i}: expected {_brief(exp)} got {_brief(got)}")
                break
            if "timestamp" in exp and int(exp["timestamp"]) != got["timestamp"]:
                problems.append(
                    f"{topic} #{i}: expected timestamp {exp['timestamp']} got {got['timestamp']}"
                )
                break
            if exp.get("window") is not None:
                w = exp["window"]
                if got["window"] != (int(w["start"]), int(w["end"])):
                    problems.append(f"{topic} #{i}: expected window {w} got {got['window']}")
                    break
        else:
            if len(shown) > len(expected):
                problems.append(
                    f"{topic}: expected {len(expected)} records but got {len(shown)}; "
                    f"extra: {_brief(shown[len(expected)])}"
                )
    return problems


def _topic_source_for_output(engine: Any, topic: str) -> Source | None:
    for q in engine.queries.values():
        if q.sink_topic == topic:
            found: Source | None = engine.catalog.source(q.sink_name)
            if found is not None:
                return found
    return _topic_source(engine, topic)


def _shown(
    engine: Any, source: Source | None, m: Message, serdes: tuple[Any, Any] | None = None
) -> dict[str, Any]:
    assert source is not None
    key, value = serdes or (key_serde(source), value_serde(source))
    return {
        "key": _decode(key, m.key),
        "value": _decode(value, m.value),
        "timestamp": m.timestamp,
        "window": m.window,
    }


def _brief(rec: dict[str, Any]) -> str:
    return json.dumps({k: rec.get(k) for k in ("key", "value")}, default=str)[:300]


def _same(expected: Any, actual: Any) -> bool:
    if isinstance(expected, bool) or isinstance(actual, bool):
        return expected is actual or (expected == actual and type(expected) is type(actual))
    if isinstance(expected, int | float | Decimal) and isinstance(actual, int | float | Decimal):
        if isinstance(expected, float) and math.isnan(expected):
            return isinstance(actual, float) and math.isnan(actual)
        return Decimal(str(expected)) == Decimal(str(actual))
    if isinstance(expected, dict) and isinstance(actual, dict):
        # QTT reads expected JSON through the sink's serde, whose field matching ignores case.
        # Fields the schema lacks are dropped and absent ones read as null, as QTT's do.
        exp = {str(k).upper(): v for k, v in expected.items()}
        act = {str(k).upper(): v for k, v in actual.items()}
        return all(_same(exp.get(k), act.get(k)) for k in set(exp) | set(act))
    if isinstance(expected, list) and isinstance(actual, list):
        return len(expected) == len(actual) and all(
            _same(a, b) for a, b in zip(expected, actual, strict=True)
        )
    return bool(expected == actual)


_SCHEMA_SPACES = re.compile(r"\s+")


def _check_post(engine: Any, post: dict[str, Any]) -> list[str]:
    problems: list[str] = []
    for spec in post.get("sources", []):
        name = spec.get("name", "")
        source = engine.catalog.source(name) or engine.catalog.source(name.upper())
        if source is None:
            problems.append(f"post: source {name} does not exist")
            continue
        kind = spec.get("type")
        if kind and kind.upper() != source.kind:
            problems.append(f"post: {name} is a {source.kind}, expected {kind}")
        schema = spec.get("schema")
        if schema is not None:
            want = _normalise_schema(schema, engine)
            got = _normalise_schema(source.describe_schema(), engine)
            if want != got:
                problems.append(f"post: {name} schema is {got!r}, expected {want!r}")
    topics = post.get("topics", {})
    blacklist = topics.get("blacklist") if isinstance(topics, dict) else None
    if blacklist:
        rx = re.compile(blacklist)
        for t in engine.broker.topics:
            if rx.fullmatch(t) and engine.broker.topics[t]:
                problems.append(f"post: topic {t} should not exist")
    return problems


def _normalise_schema(text: str, engine: Any) -> str:
    from ksql_emulator.analysis.typing import resolve_type_spec
    from ksql_emulator.parser.statements import StatementParser as _Parser
    from ksql_emulator.parser.tokens import tokenize

    try:
        parser = _Parser(tokenize("(" + text + ")"))
        cols = parser.column_defs()
    except KsqlError:
        return _SCHEMA_SPACES.sub(" ", text)
    parts = []
    for c in cols:
        typ = resolve_type_spec(c.type, engine.catalog.types)
        constraint = "KEY" if c.constraint in ("KEY", "PRIMARY KEY") else c.constraint or ""
        parts.append(f"{c.name} {typ} {constraint}".strip())
    return ", ".join(parts)


def written_records(engine: Any, topics: Collection[str] | None = None) -> list[dict[str, Any]]:
    """Every record the queries wrote, topic by topic, as QTT's `outputs` show records; only
    those of `topics` when given."""
    records: list[dict[str, Any]] = []
    for topic, messages in engine.broker.topics.items():
        if topics is not None and topic not in topics:
            continue
        inputs = engine.input_offsets.get(topic, set())
        written = [m for m in messages if m.offset not in inputs]
        source = _topic_source_for_output(engine, topic)
        if source is None:
            continue
        serdes = (key_serde(source), value_serde(source))
        for message in written:
            shown = _shown(engine, source, message, serdes)
            record = {"topic": topic, "key": shown["key"], "value": shown["value"]}
            record["timestamp"] = shown["timestamp"]
            if shown["window"] is not None:
                start, end = shown["window"]
                record["window"] = {"start": start, "end": end}
            records.append(record)
    return records
