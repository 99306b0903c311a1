"""A source's key and value serdes, built through the serde library."""

from __future__ import annotations

from typing import Any

from ksql_emulator.catalog import Source

__all__ = ["key_serde", "value_serde"]

from ksql_emulator.serde import make_serde


def key_serde(source: Source) -> Any:
    schema = [(c.name, c.type) for c in source.key_columns]
    return make_serde(
        source.key_format, schema, wrap_single=None, is_key=True, props=dict(source.key_props)
    )


def value_serde(source: Source) -> Any:
    schema = [(c.name, c.type) for c in source.value_columns]
    return make_serde(
        source.value_format,
        schema,
        wrap_single=source.wrap_single_value,
        is_key=False,
        props=dict(source.value_props),
    )
