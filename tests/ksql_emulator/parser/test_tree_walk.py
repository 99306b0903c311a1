"""The one traversal API of the syntax tree reaches every node kind: CASE branches, lambdas,
struct and map constructors, subscripts."""

from __future__ import annotations

from ksql_emulator.parser import parse_expression
from ksql_emulator.parser import tree as t

EVERY_KIND = (
    "CASE WHEN A > 1 THEN B[1] WHEN C IS NULL THEN STRUCT(F := D->X) ELSE MAP('k' := E) END"
    " + CASE G WHEN 1 THEN H END"
    " + TRANSFORM(ARR, x => x + I)"
    " + CAST(J AS INT)"
    " + (K BETWEEN L AND M)"
    " + (N IN (O, P))"
)


def names(nodes: object) -> list[str]:
    return [n.name for n in nodes]  # type: ignore[attr-defined]


def test_walk_reaches_every_column_in_every_node_kind_parents_first() -> None:
    e = parse_expression(EVERY_KIND)
    refs = names(e.find_all(t.ColumnRef))
    assert refs == [*"ABCDEGH", "ARR", "X", "I", *"JKLMNOP"]
    nodes = list(e.walk())
    assert nodes[0] is e
    case = e.find(t.Case)
    assert case is not None
    assert nodes.index(case) < nodes.index(next(iter(case.find_all(t.Subscript))))


def test_columns_leave_out_a_lambdas_own_parameters() -> None:
    e = parse_expression(EVERY_KIND)
    assert "X" not in names(e.columns())
    assert names(e.columns()) == [*"ABCDEGH", "ARR", "I", *"JKLMNOP"]


def test_prune_keeps_the_walk_out_of_a_subtree() -> None:
    e = parse_expression("CASE WHEN A = 1 THEN COUNT(B) END + C")
    seen = names(e.find_all(t.ColumnRef, prune=lambda n: isinstance(n, t.Case)))
    assert seen == ["C"]


def test_transform_replaces_nodes_in_every_branch_and_shares_the_rest() -> None:
    e = parse_expression("CASE WHEN A = 1 THEN STRUCT(F := B) ELSE MAP('k' := ARR[C]) END")

    def upper_source(n: t.Expr) -> t.Expr:
        return t.ColumnRef(n.name, "S", pos=n.pos) if isinstance(n, t.ColumnRef) else n

    out = e.transform(upper_source)
    assert [c.source for c in out.find_all(t.ColumnRef)] == ["S"] * 4
    untouched = parse_expression("CASE WHEN 1 = 1 THEN 'x' END")
    assert untouched.transform(upper_source) is untouched


def test_a_replacement_is_taken_as_it_is_not_walked_again() -> None:
    e = parse_expression("ABS(ABS(A))")
    calls = 0

    def once(n: t.Expr) -> t.Expr:
        nonlocal calls
        if isinstance(n, t.FunctionCall):
            calls += 1
            return t.ColumnRef("X")
        return n

    assert e.transform(once) == t.ColumnRef("X")
    assert calls == 1


def test_map_columns_leaves_lambda_parameters_alone() -> None:
    e = parse_expression("TRANSFORM(ARR, (x, y) => x + y + Z)")
    out = e.map_columns(lambda c: t.ColumnRef(c.name, "S"))
    refs = [(c.name, c.source) for c in out.find_all(t.ColumnRef)]
    assert refs == [("ARR", "S"), ("X", None), ("Y", None), ("Z", "S")]
