"""JOIN analysis: both sides' row layouts, the join key on each side, the join's kind."""

from __future__ import annotations

from typing import Any

from ksql_emulator.analysis.join_checks import check_sources
from ksql_emulator.analysis.join_keys import qualify_refs, synthetic_key_name, viable_keys
from ksql_emulator.analysis.join_spec import JoinSide, JoinSpec
from ksql_emulator.analysis.query_checks import unknown_source_hint
from ksql_emulator.catalog import Catalog, Source
from ksql_emulator.errors import KsqlError, KsqlStatementError, UnknownSourceError
from ksql_emulator.expressions import ExpressionCompiler
from ksql_emulator.parser import tree as t
from ksql_emulator.semantics.format import format_expr
from ksql_emulator.semantics.scope import Scope, ScopeColumn

__all__ = ["JoinSide", "JoinSpec", "analyze_join"]


def analyze_join(
    join: t.Join,
    catalog: Catalog,
    compiler: ExpressionCompiler,
    source_scope: Any,
    nested: bool = False,
) -> tuple[JoinSpec, Scope]:
    """`source_scope(source) -> (Scope, layout)` lays one source out as a single-source query."""
    if not isinstance(join.right, t.SourceRef):
        raise KsqlStatementError("Only left-deep n-way joins are supported by this emulator.")
    if not nested:
        check_criteria(join)
    inner: JoinSpec | None = None
    sides: list[tuple[Source, str, Scope, list[tuple[str, Any]]]] = []
    offset = 0
    if isinstance(join.left, t.Join):
        inner, inner_scope = analyze_join(join.left, catalog, compiler, source_scope, True)
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
                + unknown_source_hint(ref.name, catalog)
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
    if inner is None and ls.name == rs.name:
        raise KsqlStatementError(
            f"Can not join '{ls.name}' to '{rs.name}': self joins are not yet supported."
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
    known = (*left_aliases, ra)
    for e in (crit.left, crit.right):
        for col in e.columns():
            if col.source is not None and col.source not in known:
                raise KsqlStatementError(
                    f"Failed to prepare statement: '{col.source}' is not a valid stream/table "
                    "name or alias."
                )

    def owner(name: str) -> str | None:
        found: list[str] = []
        for c in (*lscope.columns, *rscope.columns):
            if c.name == name and c.source is not None and c.source not in found:
                found.append(c.source)
        if len(found) > 1:
            shown = " or ".join(f"{a}.{name}" for a in found)
            raise KsqlStatementError(f"Column '{name}' is ambiguous. Could be {shown}.")
        return found[0] if found else None

    def sources_of(e: t.Expr) -> list[str]:
        out: list[str] = []
        for c in e.columns():
            try:
                alias = c.source or owner(c.name)
            except KsqlError as err:
                # ksqlDB reports this while preparing, ahead of the position.
                raise KsqlStatementError(
                    f"Exception while preparing statement: Line: {c.pos.line}, "
                    f"Col: {c.pos.col}: {err.message}"
                ) from None
            if alias is None:
                scope = lscope if c.name in left_cols else rscope
                scope.context = "JOIN ON"
                scope.resolve(c.name)
            elif alias not in out:
                out.append(alias)
        return out

    crit_refs = (sources_of(crit.left), sources_of(crit.right))
    sides_of: list[str | None] = []
    for e, used in zip((crit.left, crit.right), crit_refs, strict=True):
        if len(used) != 1:
            raise KsqlStatementError(
                f"Invalid comparison expression '{format_expr(e)}' in join "
                f"'{format_expr(crit)}'. Each side of the join comparision must contain "
                "references from exactly one source."
            )
        sides_of.append("R" if ra in used else "L")
    if sides_of[0] == sides_of[1]:
        if sides_of[0] == "L" and crit_refs[0] != crit_refs[1]:
            raise KsqlStatementError(
                f"A join criteria is expected to reference the source (`{ra}`) in the FROM "
                f"clause, instead the right source references `{crit_refs[1][0]}` and the left "
                f"source references `{crit_refs[0][0]}`"
            )
        raise KsqlStatementError(
            f"Each side of the join must reference exactly one source and not the same source. "
            f"Left side references `{crit_refs[0][0]}` and right references `{crit_refs[1][0]}`"
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
    lonly = Scope(lscope.columns, "JOIN ON")
    ronly_cols = [
        ScopeColumn(c.name, c.type, c.index - left_width, c.source) for c in rscope.columns
    ]
    ronly = Scope(ronly_cols, "JOIN ON")
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
        pk_at = [lonly.resolve(k.name, la).index for k in ls.key_columns]
        if len(pk_at) == 1:
            pk_index = pk_at[0]
            spec.left_pk_fn = lambda row: row[pk_index]
        else:
            spec.left_pk_fn = lambda row: tuple(row[i] for i in pk_at)
        spec.left.key_expr = t.ColumnRef(pk.name, la)
        spec.right.key_expr = t.ColumnRef(pk.name, la)
    spec.left_criteria = qualify_refs(lexpr, owner)
    spec.right_criteria = qualify_refs(rexpr, owner)
    check_sources(spec, nested)
    key_name = "__JOINKEY"  # a name no query can spell
    if not nested and not foreign_key and not viable_keys(spec):
        spec.synthetic_key = key_name = synthetic_key_name(spec)
    # The join key itself (either side's, whichever is present) follows both rows.
    rowkey = ScopeColumn(key_name, lkey.type, left_width + len(rlayout))
    return spec, Scope([*lscope.columns, *rscope.columns, rowkey])


def _qualified(e: t.Expr, la: str, ra: str, left_cols: set[str]) -> t.Expr:
    from ksql_emulator.semantics.format import qualify

    refs = [c for c in e.columns() if c.source is None]
    if refs:
        return qualify(e, la if refs[0].name in left_cols else ra)
    return e


def _side(crit: t.Comparison) -> str:
    return f"{format_expr(crit.left)} = {format_expr(crit.right)}"


def check_criteria(join: t.Join) -> None:
    """ksqlDB checks every ON clause's sources before planning any of the joins."""
    if isinstance(join.left, t.Join):
        check_criteria(join.left)
    crit = join.criteria
    if not isinstance(crit, t.Comparison):
        return
    sides = [{c.source for c in e.columns()} for e in (crit.left, crit.right)]
    if all(len(s) == 1 and None not in s for s in sides) and sides[0] == sides[1]:
        (alias,) = sides[0]
        raise KsqlStatementError(
            "Each side of the join must reference exactly one source and not the same source. "
            f"Left side references `{alias}` and right references `{alias}`"
        )
