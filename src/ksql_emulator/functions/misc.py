"""Built-ins that fit no other family: AS_VALUE, numbers from bytes (bytes.json)."""

from __future__ import annotations

import struct

from ksql_emulator import sql_types as ty
from ksql_emulator.functions.registry import FunctionRegistry
from ksql_emulator.functions.signatures import T

__all__ = ["identity", "register"]


def identity(value: object) -> object:
    """AS_VALUE: the value as it is. The compiler knows it: of a column, it is the column."""
    return value


def _order(byte_order: str) -> str:
    order = byte_order.upper()
    if order == "BIG_ENDIAN":
        return ">"
    if order == "LITTLE_ENDIAN":
        return "<"
    raise ValueError(f"Byte order must be BIG_ENDIAN or LITTLE_ENDIAN, got {byte_order}")


def _reader(code: str, size: int, name: str) -> object:
    def read(data: bytes, byte_order: str = "BIG_ENDIAN") -> object:
        if len(data) != size:
            raise ValueError(f"Number of bytes must be equal to {size}, but found {len(data)}")
        return struct.unpack(_order(byte_order) + code, data)[0]

    read.__name__ = name
    return read


def register(reg: FunctionRegistry) -> None:
    """Add the remaining functions to `reg`."""
    add = reg.register
    add(
        "AS_VALUE",
        [T],
        T,
        identity,
        null_in_null_out=False,
        category="OTHER",
        description="Copies a key column into the value (identity on the value).",
    )
    for name, code, size, out in (
        ("INT_FROM_BYTES", "i", 4, ty.INTEGER),
        ("BIGINT_FROM_BYTES", "q", 8, ty.BIGINT),
        ("DOUBLE_FROM_BYTES", "d", 8, ty.DOUBLE),
    ):
        fn = _reader(code, size, name.lower())
        doc = f"{out} from {size} bytes, big-endian unless told LITTLE_ENDIAN."
        add(name, [ty.BYTES], out, fn, description=doc, category="CONVERSIONS")  # type: ignore[arg-type]
        add(name, [ty.BYTES, ty.STRING], out, fn, category="CONVERSIONS")  # type: ignore[arg-type]
