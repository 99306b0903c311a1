"""Analysis -> logical plan for stateless queries."""

from __future__ import annotations

from ksql_emulator.analysis.query import QueryAnalysis
from ksql_emulator.catalog import Source
from ksql_emulator.errors import KsqlStatementError
from ksql_emulator.plan.nodes import (
    AggregateNode,
    FilterNode,
    FlatMapNode,
    HavingNode,
    JoinNode,
    PlanNode,
    ProjectNode,
    QueryPlan,
    RepartitionNode,
    SinkNode,
    SourceNode,
)

__all__ = ["build_plan", "build_transient_plan"]


def build_plan(query_id: str, analysis: QueryAnalysis, sink: Source) -> QueryPlan:
    source = analysis.source
    ts_index = None
    if source.timestamp_column:
        col = analysis.scope.find(source.timestamp_column)
        if col is None:
            raise KsqlStatementError(
                f"The TIMESTAMP column set in the WITH clause does not exist in the schema: "
                f"'{source.timestamp_column}'"
            )
        ts_index = col.index
    steps: list[PlanNode]
    if analysis.join is not None:
        spec = analysis.join
        steps = [
            SourceNode(side.source, tuple(side.layout), _ts_index(side.source))
            for side in spec.leaves()
        ]
        steps.append(JoinNode(spec))
    else:
        reads = analysis.reads
        if reads is not None and ts_index is not None:
            reads = tuple(sorted({*reads, ts_index}))
        steps = [SourceNode(source, tuple(analysis.layout), ts_index, reads)]
    if analysis.where is not None:
        steps.append(FilterNode(analysis.where, analysis.where_screen))
    if analysis.table_functions:
        steps.append(FlatMapNode(tuple(analysis.table_functions)))
    if analysis.aggregate is not None:
        steps.append(AggregateNode(analysis.aggregate))
        if analysis.having is not None:
            steps.append(HavingNode(analysis.having))
    if analysis.partition_by is not None:
        steps.append(
            RepartitionNode(tuple(analysis.partition_by), tuple(analysis.partition_key_only))
        )
    steps.append(
        ProjectNode(
            tuple(k.compiled for k in analysis.keys), tuple(v.compiled for v in analysis.values)
        )
    )
    sink_ts = None
    if sink.timestamp_column:
        values = [c.name for c in sink.value_columns]
        keys = [c.name for c in sink.key_columns]
        if sink.timestamp_column in values:
            sink_ts = values.index(sink.timestamp_column)
        elif sink.timestamp_column in keys:
            sink_ts = -1 - keys.index(sink.timestamp_column)
        else:
            raise KsqlStatementError(
                f"The TIMESTAMP column set in the WITH clause does not exist in the schema: "
                f"'{sink.timestamp_column}'"
            )
    steps.append(SinkNode(sink, sink_ts))
    return QueryPlan(query_id, tuple(steps))


def _ts_index(source: Source) -> int | None:
    if not source.timestamp_column:
        return None
    for i, c in enumerate(source.columns):
        if c.name == source.timestamp_column:
            return i
    return None


def build_transient_plan(query_id: str, analysis: QueryAnalysis) -> QueryPlan:
    """A push/pull query's plan: as a persistent one, but the projection keeps every selected
    column in SELECT order and there is no sink."""
    sink = Source("STREAM", "__TRANSIENT__", [], "")
    steps = list(build_plan(query_id, analysis, sink).steps)
    steps = [s for s in steps if not isinstance(s, SinkNode | ProjectNode)]
    steps.append(ProjectNode((), tuple(p.compiled for p in analysis.projection), transient=True))
    return QueryPlan(query_id, tuple(steps))
