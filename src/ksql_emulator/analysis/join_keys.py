"""A join's result key: which source columns can stand for it, or the synthetic column it is.

ksqlDB (JoinTree / LogicalPlanner.buildJoinKey) keys a join's result by the first join-criteria
column that the projection includes, out of the columns known to hold the same value as the key
(the join's equivalence set); a FULL OUTER join, or one whose criteria are all expressions, has
no such column and gets a synthetic key column (ROWKEY, renamed to dodge any source column).
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from ksql_emulator import sql_types as ty
from ksql_emulator.compiler.base import Compiled
from ksql_emulator.errors import KsqlError, KsqlStatementError
from ksql_emulator.parser import tree as t
from ksql_emulator.semantics.format import and_list

if TYPE_CHECKING:
    from ksql_emulator.analysis.join_spec import JoinSpec
    from ksql_emulator.semantics.scope import Scope

__all__ = ["equivalence", "pick_join_key", "qualify_refs", "synthetic_key_name", "viable_keys"]


def qualify_refs(e: t.Expr, owner: Any) -> t.Expr:
    """`e` with every unqualified column reference given its source: `owner(name) -> alias`."""

    def qualified(c: t.ColumnRef) -> t.Expr:
        if c.source is not None:
            return c
        alias = owner(c.name)
        return c if alias is None else t.ColumnRef(c.name, alias, pos=c.pos)

    return e.map_columns(qualified)


def equivalence(spec: JoinSpec) -> list[t.Expr]:
    """Every criteria expression that evaluates to this join's key."""
    if spec.kind == "FULL":
        # Either side may be missing, so no side's expression equals the key.
        return []
    keys = [spec.left_criteria, spec.right_criteria]
    lefts = equivalence(spec.inner) if spec.inner is not None else []
    if any(k in lefts for k in keys):
        keys += [e for e in lefts if e not in keys]
    return keys


def viable_keys(spec: JoinSpec) -> list[t.ColumnRef]:
    """The source columns a projection may include to carry this join's key, in ksqlDB's order."""
    if spec.kind == "FULL":
        return []
    equiv = equivalence(spec)
    ordered = [
        *(viable_keys(spec.inner) if spec.inner is not None else []),
        spec.left_criteria,
        spec.right_criteria,
    ]
    out: list[t.ColumnRef] = []
    for e in ordered:
        if isinstance(e, t.ColumnRef) and e not in out and e in equiv:
            out.append(e)
    return out


def synthetic_key_name(spec: JoinSpec) -> str:
    """ROWKEY, or ROWKEY_<n> past the highest such suffix when a source column is called that."""
    names = {c.name for leaf in spec.leaves() for c in leaf.source.columns}
    if "ROWKEY" not in names:
        return "ROWKEY"
    suffixes = [int(m.group(1)) for n in names if (m := re.fullmatch(r"ROWKEY_(\d+)", n))]
    return f"ROWKEY_{max(suffixes, default=0) + 1}"


def _or_list(items: list[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " or " + items[-1]


def _key_more_than_once(key: str, hits: list[int], names: list[str]) -> KsqlStatementError:
    return KsqlStatementError(
        f"The projection contains a key column (`{key}`) more than once, aliased as: "
        f"{and_list(sorted(names[i] for i in hits))}.\n"
        "Each key column must only be included once in the projection."
    )


def pick_join_key(
    join: JoinSpec,
    scope: Scope,
    to_compile: list[t.Expr],
    names: list[str],
    compiled: list[Compiled],
    sink: str,
    allow_missing_keys: bool,
) -> tuple[list[bool], list[int]]:
    """Which projection item is the join's key column; the key item reads the join key itself."""
    key_flags = [False] * len(to_compile)
    synthetic = join.synthetic_key

    def owner(name: str) -> str | None:
        try:
            return scope.resolve(name).source
        except KsqlError:
            return None

    items = [qualify_refs(e, owner) for e in to_compile]
    if join.foreign_key:
        return _pick_foreign_keys(join, items, names, allow_missing_keys)
    if synthetic is not None:
        key_name = synthetic
        hits = [i for i, e in enumerate(items) if e == t.ColumnRef(synthetic)]
        required: list[str] = [synthetic]
    else:
        viable = viable_keys(join)
        chosen = next((v for v in viable if v in items), viable[0] if viable else None)
        assert chosen is not None
        key_name = f"{chosen.source}_{chosen.name}"
        hits = [i for i, e in enumerate(items) if e == chosen]
        required = [f"{v.source}.{v.name}" for v in viable]
    key_type = scope.columns[-1].type
    if ty.contains_map(key_type):
        raise KsqlStatementError(
            "Map keys, including types that contain maps, are not supported as they may lead to "
            "unexpected behavior due to inconsistent serialization. Key column name: "
            f"`{key_name}`. Column type: {key_type}. See "
            "https://github.com/confluentinc/ksql/issues/6621 for more."
        )
    if not hits:
        if allow_missing_keys:
            return key_flags, []
        plural = "s" if len(required) > 1 else ""
        message = (
            "Key missing from projection (ie, SELECT). See https://cnfl.io/2LV7ouS.\n"
            f"The query used to build `{sink}` must include the join expression{plural} "
            f"{_or_list(required)} in its projection (eg, SELECT {required[0]}...)."
        )
        if synthetic is not None:
            message += (
                f"\n{synthetic} was added as a synthetic key column because the join criteria "
                "did not match any source column. This expression must be included in the "
                "projection and may be aliased."
            )
        raise KsqlStatementError(message)
    if len(hits) > 1:
        raise _key_more_than_once(key_name, hits, names)
    key_flags[hits[0]] = True
    # The key is the join key, present even when an outer join lacks that side.
    index = scope.columns[-1].index
    compiled[hits[0]] = Compiled(compiled[hits[0]].type, lambda row: row[index])
    return key_flags, [hits[0]]


def _pick_foreign_keys(
    join: JoinSpec, items: list[t.Expr], names: list[str], allow_missing_keys: bool
) -> tuple[list[bool], list[int]]:
    """A foreign-key join is keyed by the left table's primary key: all its columns."""
    key_flags = [False] * len(items)
    left = join.leaves()[0]
    missing: list[str] = []
    order: list[int] = []
    for col in left.source.key_columns:
        hits = [i for i, e in enumerate(items) if e == t.ColumnRef(col.name, left.alias)]
        if not hits:
            missing.append(col.name)
            continue
        if len(hits) > 1:
            raise _key_more_than_once(f"{left.alias}_{col.name}", hits, names)
        key_flags[hits[0]] = True
        order.append(hits[0])
    if missing and not allow_missing_keys:
        noun = "column" if len(missing) == 1 else "columns"
        raise KsqlStatementError(
            f"Primary key {noun} missing in projection. For foreign-key table-table joins, the "
            "projection must include all primary key columns from the left input table "
            f"(`{left.source.name}`). Missing {noun}: " + ", ".join(f"`{m}`" for m in missing) + "."
        )
    return key_flags, order
