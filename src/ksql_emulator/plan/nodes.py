"""Logical plan nodes of a stateless query."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ksql_emulator.analysis.grouping import AggregateSpec
from ksql_emulator.analysis.join_spec import JoinSpec
from ksql_emulator.analysis.query import WhereScreen
from ksql_emulator.analysis.table_functions import TableFunctionCall
from ksql_emulator.catalog import Source
from ksql_emulator.compiler.base import Compiled

__all__ = [
    "AggregateNode",
    "FilterNode",
    "FlatMapNode",
    "HavingNode",
    "JoinNode",
    "PlanNode",
    "ProjectNode",
    "RepartitionNode",
    "SinkNode",
    "SourceNode",
]


@dataclass(frozen=True)
class PlanNode:
    pass


@dataclass(frozen=True)
class SourceNode(PlanNode):
    source: Source
    layout: tuple[tuple[str, Any], ...]
    timestamp_index: int | None
    # The row positions the query reads (None: all, or not known).
    reads: tuple[int, ...] | None = None


@dataclass(frozen=True)
class FilterNode(PlanNode):
    predicate: Compiled
    # The predicate over the few value columns it reads, when that is all it reads.
    screen: WhereScreen | None = None


@dataclass(frozen=True)
class FlatMapNode(PlanNode):
    """Table functions: each appends a column; one row out per value they return."""

    calls: tuple[TableFunctionCall, ...]


@dataclass(frozen=True)
class RepartitionNode(PlanNode):
    keys: tuple[Compiled, ...]
    key_only: tuple[bool, ...] = ()


@dataclass(frozen=True)
class JoinNode(PlanNode):
    spec: JoinSpec


@dataclass(frozen=True)
class AggregateNode(PlanNode):
    spec: AggregateSpec


@dataclass(frozen=True)
class HavingNode(PlanNode):
    predicate: Compiled


@dataclass(frozen=True)
class ProjectNode(PlanNode):
    keys: tuple[Compiled, ...]
    values: tuple[Compiled, ...]
    transient: bool = False  # tombstones keep a row (key columns set, values null)


@dataclass(frozen=True)
class SinkNode(PlanNode):
    sink: Source
    timestamp_index: int | None  # position in the sink's value columns, or -1-key position


@dataclass(frozen=True)
class QueryPlan:
    query_id: str
    steps: tuple[PlanNode, ...]
