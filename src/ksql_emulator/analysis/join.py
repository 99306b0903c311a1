"""JOIN analysis: both sides' row layouts, the join key on each side, the join's kind."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ksql_emulator.analysis.format import format_expr
from ksql_emulator.analysis.scope import Scope, ScopeColumn
from ksql_emulator.catalog import Catalog, Source
from ksql_emulator.compiler.base import Fn
from ksql_emulator.errors import KsqlError, KsqlStatementError, UnknownSourceError
from ksql_emulator.expressions import ExpressionCompiler
from ksql_emulator.parser import tree as t

__all__ = ["JoinSide", "JoinSpec", "analyze_join"]


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


def analyze_join(
    join: t.Join,
    catalog: Catalog,
    compiler: ExpressionCompiler,
    source_scope: Any,
) -> tuple[JoinSpec, Scope]:
    """`source_scope(source) -> (Scope, layout)` lays one source out as a single-source query."""
    if not isinstance(join.right, t.SourceRef):
        raise KsqlStatementError("Only left-deep n-way joins are supported by this emulator.")
    inner: JoinSpec | None = None
    sides: list[tuple[Source, str, Scope, list[tuple[str, Any]]]] = []
    offset = 0
    if isinstance(join.left, t.Join):
        inner, inner_scope = analyze_join(join.left, catalog, compiler, source_scope)
        cols = list(inner_scope.columns)
        # The nested join's key stays in the row under a name no query can spell.
        last = cols[-1]
        cols[-1] = ScopeColumn(f"__JOINKEY_{len(cols)}", last.type, last.index)
        first = inner.leaves()[0]
        sides.append((first.source, first.alias, Scope(cols), []))
        offset = len(cols)
        refs: tuple[t.SourceRef, ...] = (join.right,)
    else:
        assert isinstance(join.left, t.SourceRef)
        refs = (join.left, join.right)
    for ref in refs:
        source = catalog.source(ref.name)
        if source is None:
            raise UnknownSourceError(
                f"Line: {ref.pos.line}, Col: {ref.pos.col}: {ref.name} does not exist."
            )
        alias = ref.alias or ref.name
        scope, layout = source_scope(source)
        scope.columns = [
            ScopeColumn(c.name, c.type, c.index + offset, alias) for c in scope.columns
        ]
        sides.append((source, alias, scope, layout))
        offset += len(layout)
    (ls, la, lscope, llayout), (rs, ra, rscope, rlayout) = sides
    left_aliases = tuple(x.alias for x in inner.leaves()) if inner is not None else (la,)
    left_kind = ls.kind
    if inner is not None:
        left_kind = "STREAM" if any(x.source.kind == "STREAM" for x in inner.leaves()) else "TABLE"
    left_width = len(lscope.columns)
    if inner is not None and ra in left_aliases:
        raise KsqlStatementError(
            "N-way joins do not support multiple occurrences of the same source. "
            f"Source: '{rs.name}'"
        )
    if la == ra:
        raise KsqlStatementError(
            "Each side of the join must reference exactly one source and not the same source. "
            f"Left side references `{la}` and right references `{ra}`"
        )
    if left_kind == "TABLE" and rs.kind == "STREAM":
        raise KsqlStatementError(
            "Invalid join order: table-stream joins are not supported; only stream-table joins. "
            f"Got {la} [INNER] JOIN {ra}."
        )
    crit = join.criteria
    if isinstance(crit, t.Logical):
        raise KsqlStatementError(
            "Invalid join condition: joins on multiple conditions are not yet supported. "
            f"Got {format_expr(crit)}."
        )
    if left_kind == "STREAM" and rs.kind == "TABLE" and join.kind in ("FULL", "RIGHT"):
        shown = "full-outer" if join.kind == "FULL" else "right"
        raise KsqlStatementError(
            f"Invalid join type: {shown} join not supported for stream-table join. "
            f"Got {ls.name} [{join.kind}] OUTER JOIN {rs.name}."
        )
    if not isinstance(crit, t.Comparison) or crit.op != "=":
        raise KsqlStatementError(
            f"Unsupported join expression: {format_expr(crit)}. Only equality joins are supported."
        )
    left_cols = {c.name for c in lscope.columns}
    right_cols = {c.name for c in rscope.columns}

    def side_of(e: t.Expr) -> str | None:
        refs = _column_refs(e)
        if not refs:
            return None
        owners = set()
        for c in refs:
            if c.source == la or (
                c.source is None and c.name in left_cols and c.name not in right_cols
            ):
                owners.add("L")
            elif c.source == ra or (c.source is None and c.name in right_cols):
                owners.add("R")
            else:
                owners.add("?")
        return owners.pop() if len(owners) == 1 else None

    sides_of = (side_of(crit.left), side_of(crit.right))
    for e in (crit.left, crit.right):
        for col in _column_refs(e):
            if col.source is not None and col.source not in (*left_aliases, ra):
                raise KsqlStatementError(
                    f"'{col.source}' is not a valid stream/table name or alias."
                )
    for e, side in zip((crit.left, crit.right), sides_of, strict=True):
        if side is None or side == "?":
            raise KsqlStatementError(
                f"Invalid comparison expression '{format_expr(e)}' in join "
                f"'{format_expr(crit)}'. Each side of the join comparision must contain "
                "references from exactly one source."
            )
    if sides_of[0] == sides_of[1]:
        raise KsqlStatementError(
            f"Each side of the join must reference exactly one source and not the same source. "
            f"Left side references `{la}` and right references `{la}`"
        )
    lexpr, rexpr = (crit.left, crit.right) if sides_of[0] == "L" else (crit.right, crit.left)
    foreign_key = False
    if left_kind == "TABLE" and rs.kind == "TABLE":
        shown = (
            f"{format_expr(_qualified(crit.left, la, ra, left_cols))} = "
            f"{format_expr(_qualified(crit.right, la, ra, left_cols))}"
        )
        rkeys = [c.name for c in rs.key_columns]
        if len(rkeys) != 1 or not (isinstance(rexpr, t.ColumnRef) and rexpr.name == rkeys[0]):
            raise KsqlStatementError(
                "Invalid join condition: table-table joins require to join on the primary key "
                f"of the right input table. Got {shown}."
            )
        lkeys = [c.name for c in ls.key_columns]
        if len(lkeys) != 1 or not (isinstance(lexpr, t.ColumnRef) and lexpr.name == lkeys[0]):
            if inner is not None:
                raise KsqlStatementError(
                    "Invalid join condition: foreign-key table-table joins are not supported "
                    f"as part of n-way joins. Got {shown}."
                )
            if ls.window_type or rs.window_type:
                raise KsqlStatementError(
                    "Foreign-key table-table joins are not supported on windowed tables."
                )
            if join.kind in ("RIGHT", "FULL"):
                raise KsqlStatementError(
                    f"{'RIGHT' if join.kind == 'RIGHT' else 'FULL'} OUTER JOIN on a foreign key "
                    "is not supported"
                )
            foreign_key = True
    elif rs.kind == "TABLE":
        keys = [c.name for c in rs.key_columns]
        if len(keys) != 1 or not (isinstance(rexpr, t.ColumnRef) and rexpr.name == keys[0]):
            raise KsqlStatementError(
                "Invalid join condition: stream-table joins require to join on the table's "
                f"primary key. Got {_side(crit)}."
            )
    lonly = Scope(lscope.columns, "JOIN")
    ronly_cols = [
        ScopeColumn(c.name, c.type, c.index - left_width, c.source) for c in rscope.columns
    ]
    ronly = Scope(ronly_cols, "JOIN")
    try:
        lkey = compiler.compile(lexpr, lonly)
        rkey = compiler.compile(rexpr, ronly)
    except KsqlError:
        raise
    if lkey.type != rkey.type and lkey.type is not None and rkey.type is not None:
        raise KsqlStatementError(
            "Invalid join condition: types don't match. Got "
            f"{format_expr(_qualified(lexpr, la, ra, left_cols))}{{{lkey.type}}} = "
            f"{format_expr(_qualified(rexpr, la, ra, left_cols))}{{{rkey.type}}}."
        )
    within = join.within
    if left_kind == "STREAM" and rs.kind == "STREAM" and within is None:
        raise KsqlStatementError(
            "Stream-Stream joins must have a WITHIN clause specified. None was provided. To "
            "learn about how to specify a WITHIN clause with a stream-stream join, please visit: "
            "https://docs.confluent.io/current/ksql/docs/syntax-reference.html"
            "#create-stream-as-select"
        )
    spec = JoinSpec(
        join.kind,
        JoinSide(ls, la, llayout, left_width, lkey.fn, lexpr, left_kind, left_aliases),
        JoinSide(rs, ra, rlayout, len(rlayout), rkey.fn, rexpr),
        within.before.ms if within else None,
        within.after.ms if within else None,
        within.grace.ms if within and within.grace else None,
        inner,
        foreign_key,
    )
    if foreign_key:
        pk = ls.key_columns[0]
        pk_col = lonly.resolve(pk.name, la)
        pk_index = pk_col.index
        spec.left_pk_fn = lambda row: row[pk_index]
        spec.left.key_expr = t.ColumnRef(pk.name, la)
        spec.right.key_expr = t.ColumnRef(pk.name, la)
    # The join key itself (either side's, whichever is present) follows both rows, as ROWKEY.
    rowkey = ScopeColumn("ROWKEY", lkey.type, left_width + len(rlayout))
    return spec, Scope([*lscope.columns, *rscope.columns, rowkey])


def _qualified(e: t.Expr, la: str, ra: str, left_cols: set[str]) -> t.Expr:
    from ksql_emulator.analysis.format import qualify

    refs = [c for c in _column_refs(e) if c.source is None]
    if refs:
        return qualify(e, la if refs[0].name in left_cols else ra)
    return e


def _side(crit: t.Comparison) -> str:
    return f"{format_expr(crit.left)} = {format_expr(crit.right)}"


def _column_refs(e: t.Expr) -> list[t.ColumnRef]:
    import dataclasses

    if isinstance(e, t.ColumnRef):
        return [e]
    out: list[t.ColumnRef] = []
    for f in dataclasses.fields(e):
        v = getattr(e, f.name)
        if isinstance(v, t.Expr):
            out += _column_refs(v)
        elif isinstance(v, tuple):
            for x in v:
                if isinstance(x, t.Expr):
                    out += _column_refs(x)
    return out
