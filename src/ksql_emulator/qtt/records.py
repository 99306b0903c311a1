"""Test records in and out of the engine's in-memory topics, in QTT's `inputs`/`outputs` shape."""

from __future__ import annotations

import json
import math
from collections.abc import Collection
from decimal import Decimal
from typing import Any

from ksql_emulator.catalog import Source
from ksql_emulator.contracts.message import Message
from ksql_emulator.errors import KsqlError
from ksql_emulator.runtime.formats import key_serde, value_serde

__all__ = ["compare_outputs", "feed_inputs", "same_value", "written_records"]


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
            if not same_value(exp.get("key"), got["key"]) or not same_value(
                exp.get("value"), got["value"]
            ):
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
    key_s, value_s = serdes or (key_serde(source), value_serde(source))
    return {
        "key": _decode(key_s, m.key),
        "value": _decode(value_s, m.value),
        "timestamp": m.timestamp,
        "window": m.window,
    }


def _brief(rec: dict[str, Any]) -> str:
    return json.dumps({k: rec.get(k) for k in ("key", "value")}, default=str)[:300]


def same_value(expected: Any, actual: Any) -> bool:
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
        return all(same_value(exp.get(k), act.get(k)) for k in set(exp) | set(act))
    if isinstance(expected, list) and isinstance(actual, list):
        return len(expected) == len(actual) and all(
            same_value(a, b) for a, b in zip(expected, actual, strict=True)
        )
    return bool(expected == actual)


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
