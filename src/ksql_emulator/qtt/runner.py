"""Runs one QTT test variant on a fresh engine, without Kafka, and judges the outcome."""

from __future__ import annotations

import re
import traceback
from dataclasses import dataclass
from typing import Any

from ksql_emulator.errors import KsqlError, ParseError, is_java_subtype
from ksql_emulator.functions import FunctionRegistry
from ksql_emulator.qtt.loader import Variant
from ksql_emulator.qtt.records import compare_outputs, feed_inputs
from ksql_emulator.qtt.time_limit import TestTimeout, time_limit

__all__ = ["Outcome", "TestTimeout", "run_variant"]


@dataclass
class Outcome:
    status: str  # passed, failed, skipped
    reason: str = ""


def run_variant(
    variant: Variant, registry: FunctionRegistry, time_limit_s: float = 10.0
) -> Outcome:
    """Run `variant`; every engine error becomes a failed outcome with its reason."""
    if variant.skip_reason:
        return Outcome("skipped", variant.skip_reason)
    try:
        with time_limit(time_limit_s):
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


def _run(variant: Variant, registry: FunctionRegistry) -> Outcome:
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
    from ksql_emulator.parser.statements import StatementParser as _Parser
    from ksql_emulator.parser.tokens import tokenize
    from ksql_emulator.semantics.type_rules import resolve_type_spec

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
