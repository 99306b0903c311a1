"""Checks ksqlDB's analyzer and logical planner make on a whole query once it is resolved."""

from __future__ import annotations

from ksql_emulator.analysis.grouping import AggregateSpec
from ksql_emulator.catalog import Catalog, Source
from ksql_emulator.errors import KsqlStatementError
from ksql_emulator.parser import tree as t
from ksql_emulator.semantics.format import and_list, format_expr

__all__ = [
    "KAFKA_VALUE_FORMAT_DETAILS",
    "check_emit_final",
    "check_group_by_duplicates",
    "check_kafka_value_format_grouping",
    "check_partition_by_null_key_format",
    "check_table_aggregations",
    "unknown_source_hint",
]

# What ksqlDB adds when a KAFKA-format value rules an operation out.
KAFKA_VALUE_FORMAT_DETAILS = (
    "The KAFKA format is primarily intended for use as a key format. It can be used as a value "
    "format, but can not be used in any operation that requires a repartition or changelog "
    "topic.\nRemoving this limitation requires enhancements to the core of KSQL. This will "
    "come in a future release. Until then, avoid using the KAFKA format for values.\nIf you "
    "have an existing topic with KAFKA formatted values you can duplicate the data and "
    "serialize using Avro or JSON with a statement such as: \n\n'CREATE STREAM "
    "<new-stream-name> WITH(VALUE_FORMAT='Avro') AS SELECT * FROM "
    "<existing-kafka-formated-stream-name>;'\nFor more info see "
    "https://github.com/confluentinc/ksql/issues/3060"
)


def check_kafka_value_format_grouping(query: t.Query, sources: list[Source]) -> None:
    """GROUP BY keeps its state in a changelog topic, which KAFKA-format values cannot feed."""
    if not query.group_by:
        return
    kafka = [s.name for s in sources if s.value_format.upper() == "KAFKA"]
    if kafka:
        raise KsqlStatementError(
            f"Source(s) {', '.join(kafka)} are using the 'KAFKA' value format. This format does "
            f"not yet support GROUP BY.\n{KAFKA_VALUE_FORMAT_DETAILS}"
        )


def check_emit_final(query: t.Query) -> None:
    """EMIT FINAL waits for a window to close: without a windowed aggregation none does."""
    if query.emit == "FINAL" and not (query.group_by and query.window is not None):
        raise KsqlStatementError("EMIT FINAL is only supported for windowed aggregations.")


def check_partition_by_null_key_format(query: t.Query, props: t.Props) -> None:
    """PARTITION BY NULL leaves the result without key columns: its key format is NONE, and
    any other key format given in the WITH clause (KEY_FORMAT, or FORMAT) is refused."""
    nulls = [e for e in query.partition_by if isinstance(e, t.Literal) and e.kind == "NULL"]
    if not nulls or len(query.partition_by) != 1:
        return
    given = {k.upper(): str(v) for k, v in props}
    key_format = given.get("KEY_FORMAT", given.get("FORMAT"))
    if key_format is not None and key_format.upper() != "NONE":
        raise KsqlStatementError("Key format specified for stream without key columns.")


def check_group_by_duplicates(query: t.Query) -> None:
    """The same expression twice in a GROUP BY is refused as ksqlDB builds the query."""
    seen: set[str] = set()
    for e in query.group_by:
        text = format_expr(e)
        if text in seen:
            raise KsqlStatementError(f"Duplicate GROUP BY expression: {text}")
        seen.add(text)


def unknown_source_hint(name: str, catalog: Catalog) -> str:
    """What ksqlDB adds when a source is not found but one differing only in case is: quote the
    name to reach a source with small letters, unquote it to reach an upper-case one."""
    matches = [s for s in catalog.sources if s.upper() == name.upper() and s != name]
    if not matches:
        return ""
    found = matches[0]
    if any(c.islower() for c in found):
        return (
            f'\nDid you mean "{found}"? Hint: wrap a source name in double quotes to make it '
            "case-sensitive."
        )
    return f"\nDid you mean {found}? Hint: try removing double quotes from the source name."


def check_table_aggregations(aggregate: AggregateSpec | None, source: Source) -> None:
    """A table's rows are replaced, so its aggregations must be able to take a row back out."""
    if aggregate is None or source.kind != "TABLE":
        return
    names: list[str] = []
    for call in aggregate.calls:
        if not call.function.table_capable and call.function.name not in names:
            names.append(call.function.name)
    if names:
        plural = "s" if len(names) > 1 else ""
        raise KsqlStatementError(
            f"The aggregation function{plural} {and_list(names)} cannot be applied to a table "
            "source, only to a stream source."
        )
