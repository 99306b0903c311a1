"""What JOIN analysis hands on: each side's row layout and key, and the join's kind and windows."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ksql_emulator.catalog import Source
from ksql_emulator.compiler.base import Fn
from ksql_emulator.parser import tree as t

__all__ = ["JoinSide", "JoinSpec"]


@dataclass
class JoinSide:
    source: Source  # for a nested join on the left: its first source
    alias: str
    layout: list[tuple[str, Any]]
    width: int
    key_fn: Fn
    key_expr: t.Expr
    kind: str = ""  # STREAM or TABLE: what this side is (a nested join's result kind)
    aliases: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        self.kind = self.kind or self.source.kind
        self.aliases = self.aliases or (self.alias,)


@dataclass
class JoinSpec:
    kind: str  # INNER, LEFT, RIGHT, FULL
    left: JoinSide
    right: JoinSide
    before_ms: int | None
    after_ms: int | None
    grace_ms: int | None
    inner: JoinSpec | None = None  # the join on the left, for n-way joins
    foreign_key: bool = False  # table-table join from a left column to the right's key
    left_pk_fn: Fn | None = None  # a foreign-key join's result key: the left table's key
    # The ON criteria's two sides (left source's first), every column reference qualified.
    left_criteria: t.Expr = field(default_factory=lambda: t.ColumnRef(""))
    right_criteria: t.Expr = field(default_factory=lambda: t.ColumnRef(""))
    synthetic_key: str | None = None  # the outermost join's synthetic key column, if it has one

    @property
    def stream_table(self) -> bool:
        return self.left.kind == "STREAM" and self.right.kind == "TABLE"

    @property
    def table_table(self) -> bool:
        return self.left.kind == "TABLE" and self.right.kind == "TABLE"

    def leaves(self) -> list[JoinSide]:
        """Every joined source's side, left to right."""
        first = self.inner.leaves() if self.inner is not None else [self.left]
        return [*first, self.right]

    def joins(self) -> list[JoinSpec]:
        return [*(self.inner.joins() if self.inner is not None else []), self]
