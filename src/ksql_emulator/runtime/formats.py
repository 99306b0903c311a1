"""A source's key and value serdes, built through the serde library."""

from __future__ import annotations

from typing import Any

from ksql_emulator.catalog import Source
from ksql_emulator.runtime.shared import SharedByShape
from ksql_emulator.serde import make_serde

__all__ = ["key_serde", "value_serde"]

# Value serdes by everything that shapes them: queries reading one topic through equal schemas
# (every rule over `transactions`) share one serde, whose memory of its last input decodes a
# message once for all of them. Serdes hold no per-query state.
_SERDES: SharedByShape[Any] = SharedByShape()


def key_serde(source: Source) -> Any:
    schema = [(c.name, c.type) for c in source.key_columns]
    return make_serde(
        source.key_format, schema, wrap_single=None, is_key=True, props=dict(source.key_props)
    )


def value_serde(source: Source) -> Any:
    schema = [(c.name, c.type) for c in source.value_columns]
    props = dict(source.value_props)
    shape = (
        source.value_format.upper(),
        tuple(schema),
        source.wrap_single_value,
        tuple(sorted((k.upper(), str(v)) for k, v in props.items())),
    )
    return _SERDES.get(
        shape,
        lambda: make_serde(
            source.value_format,
            schema,
            wrap_single=source.wrap_single_value,
            is_key=False,
            props=props,
        ),
    )
