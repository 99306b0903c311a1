"""Logical plan -> a running query: source, operator chain, sink."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from itertools import compress
from typing import Any

from ksql_emulator import sql_types as ty
from ksql_emulator.catalog import Source
from ksql_emulator.contracts.message import Message
from ksql_emulator.functions import FunctionRegistry
from ksql_emulator.plan.nodes import (
    AggregateNode,
    FilterNode,
    FlatMapNode,
    HavingNode,
    JoinNode,
    ProjectNode,
    QueryPlan,
    RepartitionNode,
    SinkNode,
    SourceNode,
)
from ksql_emulator.runtime.formats import key_serde, value_serde
from ksql_emulator.runtime.operators import Operator
from ksql_emulator.runtime.operators.aggregate import AggregateOperator
from ksql_emulator.runtime.operators.filter import FilterOperator
from ksql_emulator.runtime.operators.flat_map import FlatMapOperator
from ksql_emulator.runtime.operators.having import HavingOperator
from ksql_emulator.runtime.operators.join import JoinOperator
from ksql_emulator.runtime.operators.project import ProjectOperator
from ksql_emulator.runtime.operators.repartition import RepartitionOperator
from ksql_emulator.runtime.operators.sink import SinkOperator
from ksql_emulator.runtime.operators.source import ColumnsReader, SourceOperator, to_epoch_ms
from ksql_emulator.runtime.record import Record
from ksql_emulator.runtime.shared import SharedByShape
from ksql_emulator.runtime.state.logged import LoggedKeyValueStore

__all__ = ["RunningQuery", "build_query"]


Entry = Callable[[Record], list[Record]]

# Source operators by everything that shapes the records they make: the queries that read one
# stream through the same layout (every rule over `transactions`) share one, which builds each
# message's record once for all of them. Operators hold no per-query state.
_SOURCES: SharedByShape[SourceOperator] = SharedByShape()


@dataclass
class RunningQuery:
    """A persistent query: per source topic a decoder and an entry step, then one chain."""

    query_id: str
    inputs: list[tuple[str, SourceOperator, Entry]]
    sink_topic: str
    sink_name: str
    operators: list[Operator]
    sink_op: SinkOperator | None
    sql: str = ""
    state: str = "RUNNING"
    errors: list[str] = field(default_factory=list)
    stateful: bool = False
    joined: bool = False
    # The source each input topic is read as: whether its keys carry a window is the source's
    # to say (WINDOW_TYPE, or a windowed table), not the topic's. A stream declared over a
    # windowed table's topic without WINDOW_TYPE reads its keys as they are.
    input_sources: dict[str, Source] = field(default_factory=dict)
    # For a query whose chain starts with a stream's WHERE over a few value columns: reads
    # those columns alone (`SourceOperator.columns_reader`), so a batch it reads alone is
    # judged before its records are decoded whole.
    screen_reader: ColumnsReader | None = None
    # For a query whose chain ends in a stream's aggregate of time windows (or none) and its
    # projection, after at most a WHERE (every window rule's first query): a batch's records
    # go through them as rows (`_aggregate_all`).
    aggregated: bool = False

    @property
    def source_topic(self) -> str:
        return self.inputs[0][0]

    @property
    def source_topics(self) -> list[str]:
        return list(dict.fromkeys(topic for topic, _, _ in self.inputs))

    def records(self, msg: Message) -> list[Record]:
        """The records `msg` yields at the end of the operator chain (before the sink)."""
        out_records: list[Record] = []
        for topic, source_op, entry in self.inputs:
            if topic != msg.topic:
                continue
            record = source_op.decode(msg)
            if record is None:
                continue
            out_records.extend(self._through(entry(record), self.operators))
        return out_records

    def _through(self, records: list[Record], operators: Sequence[Operator]) -> list[Record]:
        """`records` through `operators` (the chain, or what follows a step already taken)."""
        for op in operators:
            if len(records) == 1:  # the usual case, without a list to gather into
                try:
                    records = op.process(records[0])
                except Exception as err:  # ksqlDB logs a failing record and carries on
                    self.errors.append(str(err))
                    records = []
            else:
                out: list[Record] = []
                for r in records:
                    try:
                        out.extend(op.process(r))
                    except Exception as err:
                        self.errors.append(str(err))
                records = out
            if not records:
                break
        return records

    def bind_stores(self, wrap: Callable[[str, Any], Any]) -> bool:
        """Offers each operator's state store to `wrap` under a stable name and installs what it
        returns (the Kafka layer backs stores with changelog topics). False when part of the
        state lives outside stores (a join's buffers, EMIT FINAL's held rows): such a query is
        rebuilt by replaying its sources instead."""
        aggregates = [op for op in self.operators if isinstance(op, AggregateOperator)]
        complete = bool(aggregates) and not self.joined
        for n, op in enumerate(aggregates):
            complete = complete and not op.spec.emit_final
            name = "Aggregate-Aggregate-Materialize" + (f"-{n}" if n else "")
            store = wrap(name, op.store)
            if store is not op.store:
                op.store = store
                _resume_clock(op)
            if op.state_writer is not None and isinstance(store, LoggedKeyValueStore):
                store.encode_value = op.state_writer
        return complete

    def process(
        self, msg: Message, fold: Callable[[bytes, int, int], bytes] | None = None
    ) -> list[Message]:
        """The sink messages `msg` yields; `fold` as `SinkOperator.encode` takes it."""
        assert self.sink_op is not None
        messages: list[Message] = []
        for r in self.records(msg):
            m = self.sink_op.encode(r, fold)
            if m is not None:
                messages.append(m)
        return messages

    def process_many(
        self,
        msgs: Sequence[Message],
        fold: Callable[[bytes, int, int], bytes] | None = None,
        *,
        alone: bool = False,
    ) -> list[Sequence[Message]]:
        """`process` for each of `msgs`, all of one source topic, in order. A query of one
        input takes them as a batch: decoded together (once for every query that reads the
        topic alike, see `SourceOperator.decode_all`), then each through the chain without the
        calls `process` makes per message. A stream thread hands each of its queries a
        batch's messages this way, a few hundred at a time.

        `alone`: no other query is offered these messages, so there is no decoding to share,
        and a WHERE that reads a few value columns judges each message on those first; only
        the records it may pass are decoded whole (a rule over a window table's changes keeps
        one in hundreds)."""
        if len(self.inputs) != 1 or (msgs and msgs[0].topic != self.inputs[0][0]):
            # A join: each message to the input it belongs to.
            return [self.process(msg, fold) for msg in msgs]
        _topic, source_op, entry = self.inputs[0]
        assert self.sink_op is not None
        encode, through = self.sink_op.encode, self._through
        operators: Sequence[Operator] = self.operators
        # A chain that starts with a stream's WHERE (every rule's) screens the batch first:
        # only the few records that pass go on, one by one.
        first = operators[0] if operators else None
        read = self.screen_reader
        candidates: Sequence[int] | None = None
        if alone and read is not None and isinstance(first, FilterOperator):
            # Only the few records the WHERE may pass are visited at all; the rest write
            # nothing, without a step of Python each.
            candidates = list(compress(range(len(msgs)), first.may_pass(read(msgs))))
            decode = source_op.decode
            records: list[Record | None] = [decode(msgs[i]) for i in candidates]
        else:
            records = source_op.decode_all(msgs)
        passed: list[bool] | None = None
        if entry is _identity and isinstance(first, FilterOperator) and first.result is None:
            passed = first.passing(records)
            operators = operators[1:]
        out: list[Sequence[Message]] = [_NONE] * len(records)
        if self.aggregated and len(operators) == 2 and entry is _identity:
            self._aggregate_all(records, passed, out, fold)
        else:
            for i, record in enumerate(records):
                if record is None or (passed is not None and not passed[i]):
                    continue
                results = through(entry(record), operators)
                if results:
                    out[i] = [m for r in results if (m := encode(r, fold)) is not None]
        if candidates is None:
            return out
        # Each candidate's messages at its place in the batch.
        placed: list[Sequence[Message]] = [_NONE] * len(msgs)
        for at, written in zip(candidates, out, strict=True):
            placed[at] = written
        return placed

    def _aggregate_all(
        self,
        records: Sequence[Record | None],
        passed: Sequence[bool] | None,
        out: list[Sequence[Message]],
        fold: Callable[[bytes, int, int], bytes] | None,
    ) -> None:
        """The aggregate and projection that end the chain, for each of `records` (where
        `passed` says so), their messages at the record's place in `out`. Each row the
        aggregate makes goes to the projection and the sink as it is, without the records
        `process` makes in between: each window rule's aggregate takes every transaction."""
        aggregate, project = self.operators[-2], self.operators[-1]
        assert isinstance(aggregate, AggregateOperator) and isinstance(project, ProjectOperator)
        assert self.sink_op is not None
        changes, columns, message = aggregate.changes, project.columns, self.sink_op.message
        windowed = aggregate.spec.window is not None
        for i, record in enumerate(records):
            if record is None or (passed is not None and not passed[i]):
                continue
            try:
                rows = changes(record)
            except Exception as err:  # as `_through`: logged, the record dropped
                self.errors.append(str(err))
                continue
            written: list[Message] = []
            for row in rows:
                key, value = columns(row)
                window = (row[-3], row[-2]) if windowed else None
                m = message(key, value, row[-1], window, (), fold)
                if m is not None:
                    written.append(m)
            out[i] = written


_NONE: tuple[Message, ...] = ()


def _resume_clock(op: AggregateOperator) -> None:
    """Stream time (and the newest window) as a restored window store implies them: every
    record that advances stream time also updates a window's newest timestamp (late and keyless
    records do neither), and windows stay in the store."""
    window = op.spec.window
    if window is None:
        return
    for key, value in op.store.items():
        if window.kind == "SESSION":
            op.stream_time_ms = max([op.stream_time_ms, *(session[3] for session in value)])
        else:
            op.stream_time_ms = max(op.stream_time_ms, value[1])
            if isinstance(key[1], int):
                op.newest_start_ms = max(op.newest_start_ms, key[1])
                op.track(key[0], key[1])


def _wire_join(spec: Any, sources: list[tuple[str, SourceOperator]]) -> list[Any]:
    """Entries for every joined source; a nested join's output feeds the outer join's left."""
    join = JoinOperator(spec)
    if spec.inner is not None:
        inner = _wire_join(spec.inner, sources[:-1])
        inputs = [(topic, op, _then(entry, join.left)) for topic, op, entry in inner]
    else:
        topic, op = sources[0]
        inputs = [(topic, op, join.left)]
    topic, op = sources[-1]
    inputs.append((topic, op, join.right))
    return inputs


def _then(first: Entry, second: Entry) -> Entry:
    return lambda record: [out for mid in first(record) for out in second(mid)]


def _identity(record: Record) -> list[Record]:
    return [record]


def _timestamp_extractor(
    source_node: SourceNode, registry: FunctionRegistry
) -> tuple[Any, int | None]:
    """The source's timestamp extractor, and the row index where an int is its answer as it
    is (a BIGINT/TIMESTAMP column, read by to_epoch_ms) so the source can skip the call."""
    index = source_node.timestamp_index
    if index is None:
        return None, None
    source = source_node.source
    col = source.column(source.timestamp_column or "")
    typ = col.type if col is not None else ty.BIGINT
    if typ == ty.STRING:
        fmt = source.timestamp_format or "yyyy-MM-dd'T'HH:mm:ss.SSS"
        parse = registry.resolve("STRINGTOTIMESTAMP", [ty.STRING, ty.STRING]).call

        def from_string(row: Sequence[Any], _msg: Message) -> int | None:
            v = row[index]
            return None if v is None else int(parse(v, fmt))

        return from_string, None

    def from_value(row: Sequence[Any], _msg: Message) -> int | None:
        return to_epoch_ms(row[index])

    return from_value, index


def _sink_timestamp(
    step: SinkNode, registry: FunctionRegistry
) -> Callable[[Record], int | None] | None:
    """The sink's TIMESTAMP column as epoch millis; a STRING column is read with the sink's
    TIMESTAMP_FORMAT, and a value that does not parse drops the record (as ksqlDB does)."""
    i = step.timestamp_index
    if i is None:
        return None
    col = step.sink.column(step.sink.timestamp_column or "")
    parse: Callable[..., Any] | None
    if col is not None and col.type == ty.STRING:
        fmt = step.sink.timestamp_format or "yyyy-MM-dd'T'HH:mm:ss.SSS"
        parse = registry.resolve("STRINGTOTIMESTAMP", [ty.STRING, ty.STRING]).call
    else:
        parse = fmt = None

    def extract(record: Record) -> int | None:
        if i >= 0:
            assert record.value is not None
            v = record.value[i]
        else:
            v = record.key[-1 - i]
        if parse is None:
            return to_epoch_ms(v)
        if v is None:
            return None
        try:
            return int(parse(v, fmt))
        except Exception:  # an unparseable timestamp drops the record, never the query
            return None

    return extract


def _source_operator(step: SourceNode, registry: FunctionRegistry, throw: bool) -> SourceOperator:
    """The source operator for `step`: a shared one when an equal one exists."""
    source = step.source
    values = value_serde(source)
    shape = (
        values,  # shared by schema, format and properties (runtime.formats), else unique
        source.kind,
        source.key_format.upper(),
        tuple((c.name, c.type) for c in source.key_columns),
        tuple(sorted((k.upper(), str(v)) for k, v in source.key_props.items())),
        step.layout,
        step.timestamp_index,
        source.timestamp_column,
        source.timestamp_format,
        source.column(source.timestamp_column or ""),
        throw,
        registry,  # the engine's functions parse a STRING timestamp
    )

    def make() -> SourceOperator:
        extractor, int_at = _timestamp_extractor(step, registry)
        return SourceOperator(
            key_serde(source),
            values,
            list(step.layout),
            is_table=source.kind == "TABLE",
            timestamp=extractor,
            throw_on_invalid_timestamp=throw,
            int_timestamp_at=int_at,
        )

    operator = _SOURCES.get(shape, make)
    operator.read_only(step.reads)
    return operator


def build_query(
    plan: QueryPlan, registry: FunctionRegistry, props: dict[str, str], sql: str
) -> RunningQuery:
    sources: list[tuple[str, SourceOperator]] = []
    sink_op: SinkOperator | None = None
    operators: list[Operator] = []
    inputs: list[tuple[str, SourceOperator, Entry]] = []
    sink_topic = sink_name = ""
    throw = str(props.get("ksql.timestamp.throw.on.invalid", "false")).lower() == "true"
    stateful = False
    screen_reader: ColumnsReader | None = None
    for step in plan.steps:
        if isinstance(step, SourceNode):
            sources.append((step.source.topic, _source_operator(step, registry, throw)))
        elif isinstance(step, JoinNode):
            stateful = True
            inputs = _wire_join(step.spec, sources)
        elif isinstance(step, AggregateNode):
            stateful = True
            operators.append(AggregateOperator(step.spec, props))
        elif isinstance(step, HavingNode):
            operators.append(HavingOperator(step.predicate.fn))
        elif isinstance(step, FilterNode):
            # A table's filter (a table source or a table-table join) works on changes.
            table = all(op.is_table for _, op in sources)
            # The first step over one source may judge records before they are decoded.
            screen = step.screen if not operators and len(sources) == 1 else None
            if screen is not None:
                screen_reader = sources[0][1].columns_reader(screen.reads)
            operators.append(
                FilterOperator(
                    step.predicate.fn,
                    table=table,
                    screen=screen.predicate.fn if screen and screen_reader else None,
                )
            )
        elif isinstance(step, FlatMapNode):
            operators.append(FlatMapOperator(step.calls))
        elif isinstance(step, RepartitionNode):
            operators.append(
                RepartitionOperator([k.fn for k in step.keys], list(step.key_only) or None)
            )
        elif isinstance(step, ProjectNode):
            repartitioned = any(
                isinstance(o, RepartitionOperator | AggregateOperator) for o in operators
            )
            operators.append(
                ProjectOperator(
                    [k.fn for k in step.keys],
                    [v.fn for v in step.values],
                    repartitioned,
                    step.transient,
                    [v.column for v in step.values],
                )
            )
        elif isinstance(step, SinkNode):
            sink_topic = step.sink.topic
            sink_name = step.sink.name
            sink_op = SinkOperator(
                step.sink.topic,
                key_serde(step.sink),
                value_serde(step.sink),
                _sink_timestamp(step, registry),
            )
    if not inputs:
        inputs = [(topic, op, _identity) for topic, op in sources]
    assert inputs
    query = RunningQuery(plan.query_id, inputs, sink_topic, sink_name, operators, sink_op, sql)
    query.stateful = stateful
    query.screen_reader = screen_reader
    chain = operators[1:] if operators and isinstance(operators[0], FilterOperator) else operators
    query.aggregated = (
        len(chain) == 2
        and isinstance(chain[0], AggregateOperator)
        and chain[0].streamed
        and isinstance(chain[1], ProjectOperator)
        and sink_op is not None
        and sink_op.timestamp is None
    )
    query.joined = any(isinstance(s, JoinNode) for s in plan.steps)
    query.input_sources = {
        step.source.topic: step.source for step in plan.steps if isinstance(step, SourceNode)
    }
    return query
