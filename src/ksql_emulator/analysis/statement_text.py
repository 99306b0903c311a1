"""A persistent query's statement as ksqlDB's engine holds it while planning, for its messages.

ksqlDB sanitizes a CREATE ... AS SELECT or INSERT INTO before planning it: every source gets an
alias (its name when none is given), every column reference is qualified by its source, every
SELECT item gets its output name, and a query without EMIT gets EMIT CHANGES. An error raised
while planning ends with that statement printed back (`\\nStatement: ...`), one SELECT item a
line when there are several.
"""

from __future__ import annotations

import re

from ksql_emulator.analysis.aliases import ColumnAliasGenerator
from ksql_emulator.catalog import Catalog
from ksql_emulator.parser import tree as t
from ksql_emulator.parser.keywords import RESERVED
from ksql_emulator.semantics.format import format_expr

__all__ = ["planned_statement_text"]

_JOIN_WORDS = {"INNER": "INNER", "LEFT": "LEFT OUTER", "RIGHT": "RIGHT OUTER", "FULL": "FULL OUTER"}


def planned_statement_text(stmt: t.CreateAsSelect | t.InsertInto, catalog: Catalog) -> str:
    """`stmt` sanitized and printed as ksqlDB's SqlFormatter prints it."""
    if isinstance(stmt, t.CreateAsSelect):
        head = "CREATE " + ("OR REPLACE " if stmt.or_replace else "") + f"{stmt.kind} "
        head += ("IF NOT EXISTS " if stmt.if_not_exists else "") + _name_text(stmt.name)
        head += _with(stmt.props) + " AS "
    else:
        head = f"INSERT INTO {_name_text(stmt.target)} " + (
            f" WITH ({_props(stmt.props)}) " if stmt.props else ""
        )
    return head + _query(stmt.query, catalog)


_PLAIN_NAME = re.compile(r"[A-Z_][A-Z0-9_@]*")


def _name_text(name: str) -> str:
    """A name as ksqlDB prints it back: in backticks when it would not read back unquoted (small
    letters, other characters, a reserved word)."""
    if _PLAIN_NAME.fullmatch(name) and name not in RESERVED:
        return name
    return "`" + name.replace("`", "``") + "`"


def _props(props: t.Props) -> str:
    return ", ".join(f"{k.upper()}={_prop_value(v)}" for k, v in props)


def _prop_value(v: object) -> str:
    return f"'{v}'" if isinstance(v, str) else str(v)


def _with(props: t.Props) -> str:
    return f" WITH ({_props(props)})" if props else ""


def _leaves(rel: t.Relation) -> list[t.SourceRef]:
    if isinstance(rel, t.Join):
        return _leaves(rel.left) + _leaves(rel.right)
    assert isinstance(rel, t.SourceRef)
    return [rel]


def _query(query: t.Query, catalog: Catalog) -> str:
    leaves = _leaves(query.from_)
    owners: dict[str, list[str]] = {}
    for leaf in leaves:
        source = catalog.source(leaf.name)
        for col in source.columns if source is not None else ():
            owners.setdefault(col.name, []).append(leaf.alias or leaf.name)

    def fmt(e: t.Expr) -> str:
        def qualified(c: t.ColumnRef) -> t.Expr:
            if c.source is not None:
                return c
            found = owners.get(c.name, [])
            if len(found) == 1 or (not found and len(leaves) == 1):
                return t.ColumnRef(c.name, found[0] if found else leaves[0].alias or leaves[0].name)
            return c

        def quoted(c: t.ColumnRef) -> t.Expr:
            source = _name_text(c.source) if c.source else None
            return t.ColumnRef(_name_text(c.name), source)

        return format_expr(e.map_columns(qualified).map_columns(quoted))

    joined = len(leaves) > 1
    generator = ColumnAliasGenerator(owners)
    items: list[str] = []
    for item in query.select:
        if isinstance(item, t.AllColumns):
            items.append(f"{item.source}.*" if item.source else "*")
        elif isinstance(item, t.StructAll):
            items.append(f"{fmt(item.expr)}->*")
        else:
            name = item.alias or _name(item.expr, joined, generator)
            items.append(f"{fmt(item.expr)} {_name_text(name)}")
    lines = ["SELECT" + ("\n  " + ",\n  ".join(items) if len(items) > 1 else f" {items[0]}")]
    lines.append("FROM " + _relation(query.from_, fmt))
    if query.window is not None:
        lines.append("WINDOW " + _window(query.window))
    if query.where is not None:
        lines.append("WHERE " + fmt(query.where))
    if query.group_by:
        lines.append("GROUP BY " + ", ".join(fmt(e) for e in query.group_by))
    if query.partition_by:
        lines.append("PARTITION BY " + ", ".join(fmt(e) for e in query.partition_by))
    if query.having is not None:
        lines.append("HAVING " + fmt(query.having))
    lines.append("EMIT " + (query.emit or "CHANGES"))
    if query.limit is not None:
        lines.append(f"LIMIT {query.limit}")
    return "\n".join(lines)


def _name(e: t.Expr, joined: bool, generator: ColumnAliasGenerator) -> str:
    if isinstance(e, t.ColumnRef):
        return f"{e.source}_{e.name}" if joined and e.source else e.name
    if isinstance(e, t.Dereference):
        return generator.for_field(e.field)
    return generator.next_generated()


def _relation(rel: t.Relation, fmt: object) -> str:
    if isinstance(rel, t.SourceRef):
        return f"{_name_text(rel.name)} {_name_text(rel.alias or rel.name)}"
    assert isinstance(rel, t.Join) and callable(fmt)
    text = _relation(rel.left, fmt) + f"\n{_JOIN_WORDS.get(rel.kind, rel.kind)} JOIN "
    text += _relation(rel.right, fmt)
    if rel.within is not None:
        w = rel.within
        if w.before == w.after:
            text += f" WITHIN {_duration(w.before)}"
        else:
            text += f" WITHIN ({_duration(w.before)}, {_duration(w.after)})"
    return text + f" ON ({fmt(rel.criteria)})"


def _duration(d: t.Duration) -> str:
    unit = d.unit if d.unit.endswith("S") else d.unit + "S"
    return f"{d.value} {unit}"


def _window(w: t.WindowSpec) -> str:
    parts: list[str] = []
    if w.kind == "SESSION" and w.gap is not None:
        parts.append(_duration(w.gap))
    if w.size is not None:
        parts.append(f"SIZE {_duration(w.size)}")
    if w.advance is not None:
        parts.append(f"ADVANCE BY {_duration(w.advance)}")
    if w.retention is not None:
        parts.append(f"RETENTION {_duration(w.retention)}")
    if w.grace is not None:
        parts.append(f"GRACE PERIOD {_duration(w.grace)}")
    return f"{w.kind} ( {', '.join(parts)} ) "
