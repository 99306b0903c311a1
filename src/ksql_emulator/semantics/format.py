"""Expression tree -> text, as ksqlDB prints expressions in messages and schemas."""

from __future__ import annotations

import dataclasses

from ksql_emulator.parser import tree as t

__all__ = ["and_list", "columns_of", "format_expr", "format_type_spec", "qualify"]

_OP_NAMES = {
    "=": "EQUAL",
    "<>": "NOT_EQUAL",
    "<": "LESS_THAN",
    "<=": "LESS_THAN_OR_EQUAL",
    ">": "GREATER_THAN",
    ">=": "GREATER_THAN_OR_EQUAL",
}


def and_list(items: list[str]) -> str:
    """`a`, `a and b`, `a, b and c`: lists in ksqlDB's messages."""
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def qualify(e: t.Expr, source: str) -> t.Expr:
    """`e` with every unqualified column named as `source.column`, as ksqlDB's messages show (a
    lambda's parameters are no columns and stay as written)."""
    return e.map_columns(lambda c: c if c.source else dataclasses.replace(c, source=source))


def columns_of(e: t.Expr) -> set[str]:
    """The names of every column `e` references (a lambda's parameters are none)."""
    return {c.name for c in e.columns()}


def comparison_name(op: str) -> str:
    return _OP_NAMES[op]


def format_type_spec(spec: t.TypeSpec) -> str:
    if spec.name == "DECIMAL":
        return f"DECIMAL({spec.params[0]}, {spec.params[1]})"
    if spec.name == "ARRAY":
        return f"ARRAY<{format_type_spec(spec.items[0])}>"
    if spec.name == "MAP":
        return f"MAP<{format_type_spec(spec.items[0])}, {format_type_spec(spec.items[1])}>"
    if spec.name == "STRUCT":
        inner = ", ".join(f"`{n}` {format_type_spec(s)}" for n, s in spec.fields)
        return f"STRUCT<{inner}>"
    return spec.name


def format_expr(e: t.Expr) -> str:
    if isinstance(e, t.Literal):
        if e.kind == "STRING":
            return "'" + str(e.value).replace("'", "''") + "'"
        if e.kind == "NULL":
            return "null"
        if e.kind == "BOOLEAN":
            return "true" if e.value else "false"
        return e.text or str(e.value)
    if isinstance(e, t.ColumnRef):
        return f"{e.source}.{e.name}" if e.source else e.name
    if isinstance(e, t.Dereference):
        return f"{format_expr(e.base)}->{e.field}"
    if isinstance(e, t.Subscript):
        return f"{format_expr(e.base)}[{format_expr(e.index)}]"
    if isinstance(e, t.FunctionCall):
        if e.star:
            return f"{e.name}(*)"
        inner = ", ".join(format_expr(a) for a in e.args)
        return f"{e.name}({'DISTINCT ' if e.distinct else ''}{inner})"
    if isinstance(e, t.Lambda):
        params = e.params[0] if len(e.params) == 1 else "(" + ", ".join(e.params) + ")"
        return f"{params} => {format_expr(e.body)}"
    if isinstance(e, t.Arithmetic):
        return f"({format_expr(e.left)} {e.op} {format_expr(e.right)})"
    if isinstance(e, t.Negate):
        return f"-{format_expr(e.operand)}"
    if isinstance(e, t.Concat):
        return f"({format_expr(e.left)} || {format_expr(e.right)})"
    if isinstance(e, t.Comparison):
        return f"({format_expr(e.left)} {e.op} {format_expr(e.right)})"
    if isinstance(e, t.Logical):
        return f"({format_expr(e.left)} {e.op} {format_expr(e.right)})"
    if isinstance(e, t.Not):
        return f"(NOT {format_expr(e.operand)})"
    if isinstance(e, t.Between):
        neg = "NOT " if e.negated else ""
        return (
            f"({format_expr(e.value)} {neg}BETWEEN {format_expr(e.low)} AND {format_expr(e.high)})"
        )
    if isinstance(e, t.InList):
        neg = "NOT " if e.negated else ""
        return f"({format_expr(e.value)} {neg}IN ({', '.join(format_expr(i) for i in e.items)}))"
    if isinstance(e, t.Like):
        neg = "NOT " if e.negated else ""
        esc = f" ESCAPE '{e.escape}'" if e.escape else ""
        return f"({format_expr(e.value)} {neg}LIKE {format_expr(e.pattern)}{esc})"
    if isinstance(e, t.IsNull):
        return f"({format_expr(e.value)} IS {'NOT ' if e.negated else ''}NULL)"
    if isinstance(e, t.IsDistinct):
        neg = "NOT " if e.negated else ""
        return f"({format_expr(e.left)} IS {neg}DISTINCT FROM {format_expr(e.right)})"
    if isinstance(e, t.Case):
        parts = ["(CASE"]
        if e.operand is not None:
            parts.append(format_expr(e.operand))
        for cond, res in e.whens:
            parts.append(f"WHEN {format_expr(cond)} THEN {format_expr(res)}")
        if e.default is not None:
            parts.append(f"ELSE {format_expr(e.default)}")
        return " ".join(parts) + " END)"
    if isinstance(e, t.Cast):
        return f"CAST({format_expr(e.value)} AS {format_type_spec(e.type)})"
    if isinstance(e, t.ArrayCtor):
        return "ARRAY[" + ", ".join(format_expr(i) for i in e.items) + "]"
    if isinstance(e, t.MapCtor):
        return "MAP(" + ", ".join(f"{format_expr(k)}:={format_expr(v)}" for k, v in e.entries) + ")"
    if isinstance(e, t.StructCtor):
        return "STRUCT(" + ", ".join(f"{n}:={format_expr(v)}" for n, v in e.fields) + ")"
    if isinstance(e, t.IntervalLit):
        return f"{e.value} {e.unit}"
    return repr(e)
