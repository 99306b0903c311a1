"""ksqlDB's numeric built-ins with Java's Math semantics (math.json, greatest.json, least.json)."""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from decimal import ROUND_DOWN, ROUND_FLOOR, ROUND_HALF_DOWN, ROUND_HALF_UP, Context, Decimal
from typing import Any

from ksql_emulator import casts, widening
from ksql_emulator import sql_types as ty
from ksql_emulator.errors import FunctionArgumentError
from ksql_emulator.functions.registry import FunctionRegistry
from ksql_emulator.functions.signatures import ANY_DECIMAL, T

__all__ = ["java_round_half_up", "register"]

INT, BIGINT, DOUBLE = ty.INTEGER, ty.BIGINT, ty.DOUBLE
# Wide enough for any DECIMAL(38, s) intermediate; the default context keeps only 28 digits.
_CTX = Context(prec=100)


def _nan_guard(
    f: Callable[[float], float], domain: Callable[[float], bool]
) -> Callable[[Any], float]:
    def apply(x: Any) -> float:
        v = float(x)
        if math.isnan(v) or not domain(v):
            return math.nan
        try:
            return f(v)
        except OverflowError:
            return math.inf
        except ValueError:
            return math.nan

    return apply


def _ln(x: Any) -> float:
    v = float(x)
    if math.isnan(v) or v < 0:
        return math.nan
    if v == 0:
        return -math.inf
    return math.log(v) if not math.isinf(v) else math.inf


def _log_base(base: Any, value: Any) -> float:
    # A base of 1 or below 0 (or 0) has no logarithm: ksqlDB answers NaN before dividing.
    if base <= 0 or base == 1:
        return math.nan
    # Math.log(value) / Math.log(base): ln(base) is no longer 0, Java's IEEE division otherwise.
    return _ln(value) / _ln(base)


def java_pow(a: float, b: float) -> float:
    """Java's Math.pow: no exceptions, NaN/Infinity where Python would raise."""
    try:
        return math.pow(a, b)
    except OverflowError:
        return math.inf if a > 0 or (float(b).is_integer() and int(b) % 2 == 0) else -math.inf
    except (ValueError, ZeroDivisionError):
        if a == 0:
            return math.inf
        return math.nan


def _exp(x: Any) -> float:
    try:
        return math.exp(float(x))
    except OverflowError:
        return math.inf


def _cbrt(x: Any) -> float:
    v = float(x)
    if math.isnan(v) or math.isinf(v):
        return v
    r = abs(v) ** (1.0 / 3.0)
    rounded = round(r)
    if rounded**3 == abs(v):
        r = float(rounded)
    return math.copysign(r, v)


def _cot(x: Any) -> float:
    t = math.tan(float(x))
    return math.inf if t == 0 else 1.0 / t


def java_round_half_up(v: Decimal, places: int) -> Decimal:
    """Rounds half toward positive infinity at `places` decimals, as ksqlDB's ROUND does."""
    q = Decimal(1).scaleb(-places)
    return v.quantize(q, rounding=ROUND_HALF_UP if v >= 0 else ROUND_HALF_DOWN, context=_CTX)


def _round_double(v: float) -> int | float:
    if math.isnan(v) or math.isinf(v):
        return 0 if math.isnan(v) else (2**63 - 1 if v > 0 else -(2**63))
    return math.floor(v + 0.5)


def _round_double_places(v: float, places: int) -> float:
    if math.isnan(v) or math.isinf(v):
        return v
    return float(java_round_half_up(Decimal(repr(v)), places))


def _decimal_keep_scale(f: Callable[[Decimal, int], Decimal]) -> Callable[[Decimal, int], Decimal]:
    def apply(v: Decimal, places: int) -> Decimal:
        scale = max(0, -int(v.as_tuple().exponent))
        return f(v, places).quantize(Decimal(1).scaleb(-scale), context=_CTX)

    return apply


def _to_scale_zero(t: list[ty.SqlType | None]) -> ty.SqlType:
    d = t[0]
    assert isinstance(d, ty.DecimalType)
    return ty.DecimalType(max(d.precision - d.scale, 1), 0)


def _same_type(t: list[ty.SqlType | None]) -> ty.SqlType:
    d = t[0]
    assert d is not None
    return d


def _trunc_places(v: Decimal, places: int) -> Decimal:
    return v.quantize(Decimal(1).scaleb(-places), rounding=ROUND_DOWN, context=_CTX)


def _floor_decimal(v: Decimal) -> Decimal:
    scale = max(0, -int(v.as_tuple().exponent))
    return v.to_integral_value(rounding=ROUND_FLOOR).quantize(
        Decimal(1).scaleb(-scale), context=_CTX
    )


def _ceil_decimal(v: Decimal) -> Decimal:
    scale = max(0, -int(v.as_tuple().exponent))
    return (-(-v).to_integral_value(rounding=ROUND_FLOOR)).quantize(
        Decimal(1).scaleb(-scale), context=_CTX
    )


def _sign(v: Any) -> int:
    if isinstance(v, float) and math.isnan(v):
        return 0
    return int(v > 0) - int(v < 0)


def _extreme(pick: Callable[..., Any]) -> Callable[..., Any]:
    def apply(*values: Any) -> Any:
        present = [v for v in values if v is not None]
        if not present:
            return None
        return pick(present)

    return apply


def _extreme_type(name: str) -> Callable[[list[ty.SqlType | None]], ty.SqlType]:
    def returns(types: list[ty.SqlType | None]) -> ty.SqlType:
        typed = {t for t in types if t is not None}
        if len(typed) == 1:
            return typed.pop()
        # ksqlDB finds one overload only when DOUBLE is among mixed numeric types, or when
        # every argument is a DECIMAL (then widened); a STRING beside a time type is parsed.
        if ty.DOUBLE in typed and all(ty.is_numeric(t) for t in typed):
            return ty.DOUBLE
        if typed and all(isinstance(t, ty.DecimalType) for t in typed):
            widened = widening.common_type(typed)
            assert widened is not None
            return widened
        times = typed & {ty.DATE, ty.TIME, ty.TIMESTAMP}
        if len(times) == 1 and typed - times == {ty.STRING}:
            return times.pop()
        listed = ", ".join("null" if t is None else str(t) for t in types)
        if not typed or all(ty.is_numeric(t) for t in typed):
            raise FunctionArgumentError(
                f"Function '{name}' cannot be resolved due to ambiguous method parameters "
                f"({listed})."
            )
        raise FunctionArgumentError(f"Function '{name}' does not accept parameters ({listed}).")

    return returns


_DOUBLE_FUNCS: dict[str, tuple[Callable[[Any], float], str]] = {
    "SQRT": (_nan_guard(math.sqrt, lambda v: v >= 0), "Square root."),
    "CBRT": (_cbrt, "Cube root."),
    "EXP": (_exp, "e raised to the power of the argument."),
    "LN": (_ln, "Natural logarithm."),
    "ACOS": (_nan_guard(math.acos, lambda v: -1 <= v <= 1), "Inverse cosine."),
    "ASIN": (_nan_guard(math.asin, lambda v: -1 <= v <= 1), "Inverse sine."),
    "ATAN": (_nan_guard(math.atan, lambda v: True), "Inverse tangent."),
    "COS": (_nan_guard(math.cos, lambda v: not math.isinf(v)), "Cosine."),
    "COSH": (_nan_guard(math.cosh, lambda v: True), "Hyperbolic cosine."),
    "COT": (_nan_guard(_cot, lambda v: not math.isinf(v)), "Cotangent."),
    "SIN": (_nan_guard(math.sin, lambda v: not math.isinf(v)), "Sine."),
    "SINH": (_nan_guard(math.sinh, lambda v: True), "Hyperbolic sine."),
    "TAN": (_nan_guard(math.tan, lambda v: not math.isinf(v)), "Tangent."),
    "TANH": (_nan_guard(math.tanh, lambda v: True), "Hyperbolic tangent."),
    "DEGREES": (_nan_guard(math.degrees, lambda v: True), "Radians to degrees."),
    "RADIANS": (_nan_guard(math.radians, lambda v: True), "Degrees to radians."),
}


def register(reg: FunctionRegistry) -> None:
    """Add the numeric functions to `reg`."""
    add = reg.register
    cat = "MATHEMATICAL"
    for name, (fn, doc) in _DOUBLE_FUNCS.items():
        add(name, [DOUBLE], DOUBLE, fn, description=doc, category=cat)
    add(
        "LOG",
        [DOUBLE],
        DOUBLE,
        _ln,
        description="Natural logarithm, or the logarithm in a given base.",
        category=cat,
    )
    add("LOG", [DOUBLE, DOUBLE], DOUBLE, _log_base, category=cat)
    add(
        "ATAN2",
        [DOUBLE, DOUBLE],
        DOUBLE,
        lambda y, x: math.atan2(float(y), float(x)),
        description="Angle of (x, y).",
        category=cat,
    )
    add(
        "POWER",
        [DOUBLE, DOUBLE],
        DOUBLE,
        lambda a, b: java_pow(float(a), float(b)),
        description="A number raised to a power.",
        category=cat,
    )
    add("PI", [], DOUBLE, lambda: math.pi, description="The number pi.", category=cat)
    add("RANDOM", [], DOUBLE, random.random, description="A random number in [0, 1).", category=cat)

    add(
        "ABS",
        [INT],
        INT,
        lambda v: casts.wrap_int(abs(v)),
        description="Absolute value.",
        category=cat,
    )
    add("ABS", [BIGINT], BIGINT, lambda v: casts.wrap_long(abs(v)), category=cat)
    add("ABS", [DOUBLE], DOUBLE, lambda v: abs(float(v)), category=cat)
    add("ABS", [ANY_DECIMAL], _same_type, abs, category=cat)

    add("SIGN", [INT], INT, _sign, description="-1, 0 or 1 by the sign.", category=cat)
    add("SIGN", [BIGINT], INT, _sign, category=cat)
    add("SIGN", [DOUBLE], INT, _sign, category=cat)
    add("SIGN", [ANY_DECIMAL], INT, _sign, category=cat)

    for name, dec_fn, dbl_fn, doc in (
        ("FLOOR", _floor_decimal, math.floor, "Largest integer value not above the argument."),
        ("CEIL", _ceil_decimal, math.ceil, "Smallest integer value not below the argument."),
    ):
        add(name, [INT], INT, lambda v: v, description=doc, category=cat)
        add(name, [BIGINT], BIGINT, lambda v: v, category=cat)
        add(name, [DOUBLE], DOUBLE, _float_of(dbl_fn), category=cat)
        add(name, [ANY_DECIMAL], _same_type, dec_fn, category=cat)

    add(
        "ROUND",
        [INT],
        INT,
        lambda v: v,
        description="Rounds half up to some decimal places.",
        category=cat,
    )
    add("ROUND", [BIGINT], BIGINT, lambda v: v, category=cat)
    add("ROUND", [DOUBLE], BIGINT, lambda v: _round_double(float(v)), category=cat)
    add(
        "ROUND", [DOUBLE, INT], DOUBLE, lambda v, p: _round_double_places(float(v), p), category=cat
    )
    add("ROUND", [ANY_DECIMAL], _to_scale_zero, lambda v: java_round_half_up(v, 0), category=cat)
    add(
        "ROUND",
        [ANY_DECIMAL, INT],
        _same_type,
        _decimal_keep_scale(java_round_half_up),
        category=cat,
    )

    add("TRUNC", [INT], INT, lambda v: v, description="Truncates toward zero.", category=cat)
    add("TRUNC", [BIGINT], BIGINT, lambda v: v, category=cat)
    add(
        "TRUNC",
        [DOUBLE],
        BIGINT,
        lambda v: casts.cast_function(DOUBLE, BIGINT)(float(v)),
        category=cat,
    )
    add(
        "TRUNC",
        [DOUBLE, INT],
        DOUBLE,
        lambda v, p: float(_trunc_places(Decimal(repr(float(v))), p)),
        category=cat,
    )
    add("TRUNC", [ANY_DECIMAL], _to_scale_zero, lambda v: _trunc_places(v, 0), category=cat)
    add("TRUNC", [ANY_DECIMAL, INT], _same_type, _decimal_keep_scale(_trunc_places), category=cat)

    for name, pick in (("GREATEST", max), ("LEAST", min)):
        add(
            name,
            [T, T],
            _extreme_type(name.lower()),
            _extreme(pick),
            variadic=True,
            null_in_null_out=False,
            category=cat,
            description=f"The {'largest' if pick is max else 'smallest'} non-null argument.",
        )


def _float_of(f: Callable[[float], int]) -> Callable[[Any], float]:
    def apply(v: Any) -> float:
        x = float(v)
        if math.isnan(x) or math.isinf(x):
            return x
        return float(f(x))

    return apply
