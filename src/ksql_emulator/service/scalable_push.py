"""Which push queries ksqlDB runs as scalable push queries (push v2), and what they drop.

A scalable push query does not start a Kafka Streams application of its own: it taps the
output of the one persistent query that writes its source. ksqlDB takes that path only when
`ksql.query.push.v2.enabled` is on and the query is simple enough to run on that output, and
names it `SCALABLE_PUSH_QUERY_<uuid>` instead of `transient_...`.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

from ksql_emulator.parser import tree as t

__all__ = ["is_scalable_push", "scalable_query_id", "skips_record"]

_DISALLOWED = ("ROWPARTITION", "ROWOFFSET")


def _true(value: Any) -> bool:
    return str(value).strip().lower() == "true"


def _reads_latest(config: Mapping[str, Any], overrides: Mapping[str, Any]) -> bool:
    """The request's `auto.offset.reset` wins; else the configured streams property. Unset is
    not "latest": only a query that explicitly starts at the end can tap a running query."""
    if "auto.offset.reset" in overrides:
        return str(overrides["auto.offset.reset"]).strip().lower() == "latest"
    for key in ("ksql.streams.auto.offset.reset", "auto.offset.reset"):
        if key in config:
            return str(config[key]).strip().lower() == "latest"
    return False


def _uses_disallowed_columns(query: t.Query, config: Mapping[str, Any]) -> bool:
    # With ROWPARTITION/ROWOFFSET disabled they are user columns, usable like any other.
    if not _true(config.get("ksql.rowpartition.rowoffset.enabled", "true")):
        return False
    exprs = [item.expr for item in query.select if isinstance(item, t.SelectItem)]
    if query.where is not None:
        exprs.append(query.where)
    return any(ref.name in _DISALLOWED for e in exprs for ref in e.find_all(t.ColumnRef))


def is_scalable_push(
    query: t.Query,
    writers: int,
    config: Mapping[str, Any],
    overrides: Mapping[str, Any],
) -> bool:
    """ksqlDB's rules: v2 enabled (server config or the request), EMIT CHANGES on one source
    (no join) that exactly one persistent query writes (`writers`), no GROUP BY, WINDOW,
    HAVING or PARTITION BY, reading from "latest", and no ROWPARTITION/ROWOFFSET."""
    merged = {**config, **overrides}
    if not _true(merged.get("ksql.query.push.v2.enabled", "false")):
        return False
    return (
        isinstance(query.from_, t.SourceRef)
        and (query.emit or "").upper() == "CHANGES"
        and not query.group_by
        and query.window is None
        and query.having is None
        and not query.partition_by
        and _reads_latest(merged, overrides)
        and writers == 1
        and not _uses_disallowed_columns(query, merged)
    )


def scalable_query_id() -> str:
    return f"SCALABLE_PUSH_QUERY_{uuid.uuid4()}"


def skips_record(key: bytes | None, value: bytes | None, keyed: bool) -> bool:
    """A scalable push query passes over records without a value, and without a key where its
    source has key columns (ksqlDB's registry does not handle nulls in either)."""
    return value is None or (key is None and keyed)
