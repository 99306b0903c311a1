"""Checks ksqlDB makes on the sources of a join: formats, windowing, co-partitioning."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from ksql_emulator.analysis.query_checks import KAFKA_VALUE_FORMAT_DETAILS
from ksql_emulator.errors import KsqlStatementError
from ksql_emulator.parser import tree as t

if TYPE_CHECKING:
    from ksql_emulator.analysis.join_spec import JoinSide, JoinSpec
    from ksql_emulator.catalog import Source

__all__ = ["check_sources"]


def check_sources(spec: JoinSpec, nested: bool) -> None:
    """Raise ksqlDB's error for a join its sources cannot take part in."""
    if not nested:
        kafka = [
            leaf.source.name for leaf in spec.leaves() if _value_format(leaf.source) == "KAFKA"
        ]
        if kafka:
            raise KsqlStatementError(
                f"Source(s) {', '.join(kafka)} are using the 'KAFKA' value format. This format "
                f"does not yet support JOIN.\n{KAFKA_VALUE_FORMAT_DETAILS}"
            )
    left = spec.inner.right.source if spec.inner is not None else spec.left.source
    right = spec.right.source
    _check_windows(left, right)
    for side, criteria, leaf in (
        (spec.left, spec.left_criteria, spec.inner is None),
        (spec.right, spec.right_criteria, True),
    ):
        if leaf and side.source.window_type and _repartitions(side, criteria):
            # A repartition would lose the window from the key.
            raise KsqlStatementError(
                "Implicit repartitioning of windowed sources is not supported. "
                "See https://github.com/confluentinc/ksql/issues/4385."
            )
    if (
        not spec.foreign_key
        and _declared_partitions(left)
        and _declared_partitions(right)
        and left.partitions != right.partitions
    ):
        # A join's partition count is its right source's; it is named by its leftmost source.
        lname, rname = spec.leaves()[0].alias, spec.right.alias
        raise KsqlStatementError(
            f"Can't join `{lname}` with `{rname}` since the number of partitions don't match. "
            f"`{lname}` partitions = {left.partitions}; `{rname}` partitions = "
            f"{right.partitions}. Please repartition either one so that the number of "
            "partitions match."
        )


def _declared_partitions(source: Source) -> bool:
    """Whether the source's statement names its partition count: a topic the emulator created
    without one has a guessed count (ksqlDB's test topics default to several partitions)."""
    return re.search(r"\bPARTITIONS\s*=", source.sql, re.IGNORECASE) is not None


def _value_format(source: Source) -> str:
    return source.value_format.upper()


def _check_windows(left: Source, right: Source) -> None:
    lw, rw = left.window_type, right.window_type
    if (lw is None) != (rw is None):
        shown = [
            f"`{s.name}` is {s.window_type.upper()} windowed"
            if s.window_type
            else f"`{s.name}` is not windowed"
            for s in (left, right)
        ]
        raise KsqlStatementError(
            "Can not join windowed source to non-windowed source.\n" + "\n".join(shown)
        )
    if lw is not None and rw is not None and (lw.upper() == "SESSION") != (rw.upper() == "SESSION"):
        raise KsqlStatementError(
            "Incompatible windowed sources.\n"
            f"Left source: {lw.upper()}\n"
            f"Right source: {rw.upper()}\n"
            "Session windowed sources can only be joined to other session windowed sources, "
            "and may still not result in expected behaviour as session bounds must be an exact "
            "match for the join to work\n"
            "Hopping and tumbling windowed sources can only be joined to other hopping and "
            "tumbling windowed sources"
        )


def _repartitions(side: JoinSide, criteria: t.Expr) -> bool:
    keys = side.source.key_columns
    return not (
        len(keys) == 1 and isinstance(criteria, t.ColumnRef) and criteria.name == keys[0].name
    )
