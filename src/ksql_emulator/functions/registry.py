"""The scalar function registry: overload resolution and binding calls, as ksqlDB does them."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from ksql_emulator import casts, widening
from ksql_emulator import sql_types as ty
from ksql_emulator.errors import FunctionArgumentError, UnknownFunctionError
from ksql_emulator.functions.signatures import (
    AnyDecimal,
    AnyStruct,
    FunctionInfo,
    Generic,
    LambdaParam,
    LambdaType,
    ResolvedFunction,
    ReturnSpec,
    Signature,
)

__all__ = ["FunctionRegistry"]


_NUM_RANK = {"INTEGER": 0, "BIGINT": 1, "DECIMAL": 2, "DOUBLE": 3}
_TIME_TYPES = (ty.DATE, ty.TIME, ty.TIMESTAMP)


class _Binder:
    """Matches argument types against one signature, binding its type variables."""

    def __init__(self) -> None:
        self.bindings: dict[str, ty.SqlType] = {}
        self.cost = 0

    def match(self, pattern: ty.SqlType, actual: ty.SqlType | None) -> bool:
        if actual is None:
            return not isinstance(pattern, LambdaParam)
        if isinstance(pattern, LambdaParam):
            if not isinstance(actual, LambdaType) or len(actual.inputs) != len(pattern.inputs):
                return False
            return self.match(pattern.output, actual.output)
        if isinstance(actual, LambdaType):
            return False
        if isinstance(pattern, Generic):
            bound = self.bindings.get(pattern.name)
            if bound is None or bound == actual:
                self.bindings[pattern.name] = actual
                return True
            if widening.can_implicitly_cast(actual, bound):
                self.cost += 1
                return True
            if widening.can_implicitly_cast(bound, actual):
                self.bindings[pattern.name] = actual
                self.cost += 1
                return True
            widened = widening.common_type([bound, actual])
            if widened is not None and ty.is_numeric(widened):
                self.bindings[pattern.name] = widened
                self.cost += 2
                return True
            # ksqlDB reads a string beside a DATE/TIME/TIMESTAMP as that time type.
            if actual == ty.STRING and bound in _TIME_TYPES:
                self.cost += 3
                return True
            if bound == ty.STRING and actual in _TIME_TYPES:
                self.bindings[pattern.name] = actual
                self.cost += 3
                return True
            return False
        if isinstance(pattern, AnyDecimal):
            return isinstance(actual, ty.DecimalType)
        if isinstance(pattern, AnyStruct):
            return isinstance(actual, ty.StructType)
        if isinstance(pattern, ty.ArrayType):
            if not isinstance(actual, ty.ArrayType):
                return False
            return pattern.item is None or self.match(pattern.item, actual.item)
        if isinstance(pattern, ty.MapType):
            if not isinstance(actual, ty.MapType):
                return False
            return (pattern.key is None or self.match(pattern.key, actual.key)) and (
                pattern.value is None or self.match(pattern.value, actual.value)
            )
        if pattern == actual:
            return True
        if (
            ty.is_numeric(pattern)
            and ty.is_numeric(actual)
            and widening.can_implicitly_cast(actual, pattern)
        ):
            self.cost += 1 + _NUM_RANK[pattern.base] - _NUM_RANK[actual.base]
            return True
        return False

    def substitute(self, pattern: ty.SqlType | None) -> ty.SqlType | None:
        if pattern is None:
            return None
        if isinstance(pattern, Generic):
            return self.bindings.get(pattern.name)
        if isinstance(pattern, ty.ArrayType):
            return ty.ArrayType(self.substitute(pattern.item))
        if isinstance(pattern, ty.MapType):
            return ty.MapType(self.substitute(pattern.key), self.substitute(pattern.value))
        if isinstance(pattern, AnyDecimal | AnyStruct | LambdaParam):
            return None
        return pattern


def _expand(sig: Signature, count: int) -> list[ty.SqlType] | None:
    params = list(sig.params)
    if not sig.variadic:
        return params if len(params) == count else None
    fixed = len(params) - 1
    if count < fixed:
        return None
    return params[:fixed] + [params[-1]] * (count - fixed)


def _type_list(arg_types: Sequence[ty.SqlType | None]) -> str:
    return ", ".join("null" if t is None else str(t) for t in arg_types)


def _signature_text(name: str, sig: Signature) -> str:
    """One overload as ksqlDB lists it: `NAME(TYPE, TYPE...)`, a variadic last parameter
    shown as its element type followed by `...`."""
    params = [str(p) for p in sig.params]
    if sig.variadic and params:
        params[-1] += "..."
    return f"{name.upper()}({', '.join(params)})"


def _converter(actual: ty.SqlType | None, target: ty.SqlType | None) -> Callable[[Any], Any] | None:
    if actual is None or target is None or actual == target:
        return None
    if isinstance(actual, LambdaType):
        return None
    try:
        return casts.cast_function(actual, target)
    except Exception:
        return None


class FunctionRegistry:
    """Scalar built-ins by upper-case name; `resolve` picks the overload for argument types."""

    def __init__(self) -> None:
        self._functions: dict[str, FunctionInfo] = {}

    def register(
        self,
        name: str,
        params: Sequence[ty.SqlType],
        returns: ReturnSpec,
        call: Callable[..., Any],
        *,
        description: str = "",
        variadic: bool = False,
        null_in_null_out: bool = True,
        java_name: str | None = None,
        category: str = "",
        factory: bool = False,
    ) -> None:
        """Add one overload of `name` (created on first use)."""
        key = name.upper()
        info = self._functions.get(key)
        if info is None:
            info = FunctionInfo(key, description, java_name or name.lower(), category)
            self._functions[key] = info
        elif description and not info.description:
            info.description = description
        info.signatures.append(
            Signature(tuple(params), returns, call, variadic, null_in_null_out, factory)
        )

    def names(self) -> list[str]:
        """Every registered function name, sorted."""
        return sorted(self._functions)

    def info(self, name: str) -> FunctionInfo:
        """The function called `name` (any case), or UnknownFunctionError."""
        found = self._functions.get(name.upper())
        if found is None:
            raise UnknownFunctionError(f"Can't find any functions with the name '{name.upper()}'")
        return found

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name.upper() in self._functions

    def describe(self) -> list[dict[str, str]]:
        """Rows for SHOW FUNCTIONS: name, type SCALAR, category, description."""
        return [
            {
                "name": info.name,
                "type": "SCALAR",
                "category": info.category,
                "description": info.description,
            }
            for _, info in sorted(self._functions.items())
        ]

    def describe_function(self, name: str) -> dict[str, Any]:
        """DESCRIBE FUNCTION data: name, description, and one entry per overload."""
        info = self.info(name)
        variations = []
        for sig in info.signatures:
            args = [str(p) for p in sig.params]
            if sig.variadic and args:
                args[-1] += "[]"
            ret = sig.returns if isinstance(sig.returns, ty.SqlType) else "computed"
            variations.append({"arguments": args, "returnType": str(ret)})
        return {
            "name": info.name,
            "type": "SCALAR",
            "category": info.category,
            "description": info.description,
            "variations": variations,
        }

    def _candidates(
        self, info: FunctionInfo, arg_types: Sequence[ty.SqlType | None]
    ) -> list[tuple[int, int, Signature, _Binder, list[ty.SqlType]]]:
        found = []
        for order, sig in enumerate(info.signatures):
            params = _expand(sig, len(arg_types))
            if params is None:
                continue
            binder = _Binder()
            # Lambdas are matched last so their input types come from bound type variables.
            order_idx = sorted(range(len(params)), key=lambda i: isinstance(params[i], LambdaParam))
            if all(binder.match(params[i], arg_types[i]) for i in order_idx):
                cost = binder.cost + (1 if sig.variadic else 0)
                found.append((cost, order, sig, binder, params))
        found.sort(key=lambda c: (c[0], c[1]))
        return found

    def _no_match(self, info: FunctionInfo, arg_types: Sequence[ty.SqlType | None]) -> Exception:
        # As ksqlDB, list every overload so the caller sees what the function takes.
        alternatives = "\n".join(_signature_text(info.name, sig) for sig in info.signatures)
        return FunctionArgumentError(
            f"Function '{info.java_name}' does not accept parameters ({_type_list(arg_types)}).\n"
            f"Valid alternatives are:\n{alternatives}\n"
            "For detailed information on a function run: DESCRIBE FUNCTION <Function-Name>;"
        )

    def lambda_inputs(
        self, name: str, arg_types: Sequence[ty.SqlType | None]
    ) -> dict[int, list[ty.SqlType | None]]:
        """For a call with lambdas (None at their positions), each lambda's parameter types."""
        info = self.info(name)
        for sig in info.signatures:
            params = _expand(sig, len(arg_types))
            if params is None:
                continue
            binder = _Binder()
            ok = True
            for pattern, actual in zip(params, arg_types, strict=True):
                if isinstance(pattern, LambdaParam):
                    continue
                if not binder.match(pattern, actual):
                    ok = False
                    break
            lambdas = [i for i, p in enumerate(params) if isinstance(p, LambdaParam)]
            if ok and lambdas:
                result: dict[int, list[ty.SqlType | None]] = {}
                for i in lambdas:
                    lam = params[i]
                    assert isinstance(lam, LambdaParam)
                    result[i] = [binder.substitute(p) for p in lam.inputs]
                return result
        raise self._no_match(info, arg_types)

    def resolve(self, name: str, arg_types: list[ty.SqlType | None]) -> ResolvedFunction:
        """The overload of `name` for `arg_types` (None = untyped NULL literal)."""
        info = self.info(name)
        candidates = self._candidates(info, arg_types)
        if not candidates:
            raise self._no_match(info, arg_types)
        cost, _order, sig, binder, params = candidates[0]
        if all(t is None for t in arg_types) and arg_types and len(candidates) > 1:
            ties = [c for c in candidates if c[0] == cost]
            if len(ties) > 1 and any(isinstance(c[2].returns, ty.SqlType) for c in ties[1:]):
                generic_returns = {
                    str(c[2].returns) for c in ties if isinstance(c[2].returns, ty.SqlType)
                }
                if len(generic_returns) > 1:
                    raise FunctionArgumentError(
                        f"Function '{info.java_name}' cannot be resolved due to ambiguous "
                        f"method parameters ({_type_list(arg_types)})."
                    )
        concrete = [binder.substitute(p) for p in params]
        if callable(sig.returns) and not isinstance(sig.returns, ty.SqlType):
            return_type: ty.SqlType | None = sig.returns(list(arg_types))
        else:
            return_type = binder.substitute(sig.returns)
        if return_type is None:
            raise FunctionArgumentError(
                f"Function '{info.java_name}' cannot be resolved due to ambiguous "
                f"method parameters ({_type_list(arg_types)})."
            )
        converters = [_converter(a, c) for a, c in zip(arg_types, concrete, strict=True)]
        return ResolvedFunction(info.name, return_type, _bind_call(sig, converters))


def _bind_call(sig: Signature, converters: list[Callable[[Any], Any] | None]) -> Callable[..., Any]:
    impl = sig.call() if sig.factory else sig.call
    null_guard = sig.null_in_null_out
    convert = any(converters)

    # ksqlDB contains a failing UDF call: that call yields NULL and the rest of the expression
    # goes on (cast.json: "cast function with error to null without logging error").
    def call(*args: Any) -> Any:
        try:
            if convert:
                args = tuple(
                    a if c is None or a is None else c(a)
                    for a, c in zip(args, converters, strict=True)
                )
            if null_guard and any(a is None for a in args):
                return None
            return impl(*args)
        except Exception:
            return None

    if not convert:
        # The function itself, for a caller that knows it (AS_VALUE of a column is the column).
        call.__wrapped__ = impl  # type: ignore[attr-defined]
    return call
