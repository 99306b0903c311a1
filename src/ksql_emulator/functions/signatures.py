"""Signatures as data: the parameter patterns (type variables, lambdas...) and overloads."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ksql_emulator import sql_types as ty

__all__ = [
    "ANY_DECIMAL",
    "ANY_STRUCT",
    "AnyDecimal",
    "AnyStruct",
    "FunctionInfo",
    "Generic",
    "K",
    "LambdaParam",
    "LambdaType",
    "ResolvedFunction",
    "ReturnSpec",
    "Signature",
    "T",
    "U",
    "V",
]

ReturnSpec = ty.SqlType | Callable[[list[ty.SqlType | None]], ty.SqlType]


@dataclass(frozen=True)
class Generic(ty.SqlType):
    """A type variable in a signature (`T`, `K`, `V`); binds to the first argument it meets."""

    name: str

    @property
    def base(self) -> str:
        return self.name

    def __str__(self) -> str:
        return self.name


@dataclass(frozen=True)
class AnyDecimal(ty.SqlType):
    @property
    def base(self) -> str:
        return "DECIMAL"

    def __str__(self) -> str:
        return "DECIMAL"


@dataclass(frozen=True)
class AnyStruct(ty.SqlType):
    @property
    def base(self) -> str:
        return "STRUCT"

    def __str__(self) -> str:
        return "STRUCT"


@dataclass(frozen=True)
class LambdaParam(ty.SqlType):
    """A lambda parameter in a signature: input type patterns and the body's result pattern."""

    inputs: tuple[ty.SqlType, ...]
    output: ty.SqlType

    @property
    def base(self) -> str:
        return "LAMBDA"

    def __str__(self) -> str:
        return f"LAMBDA ({', '.join(str(i) for i in self.inputs)}) => {self.output}"


@dataclass(frozen=True)
class LambdaType(ty.SqlType):
    """An argument that is a compiled lambda: its input types and its body's type.

    CORE passes this in `arg_types` at a lambda's position (after asking `lambda_inputs` which
    input types the lambda's parameters have); the call then gets a Python callable there.
    """

    inputs: tuple[ty.SqlType | None, ...]
    output: ty.SqlType | None

    @property
    def base(self) -> str:
        return "LAMBDA"

    def __str__(self) -> str:
        return f"LAMBDA ({', '.join(str(i) for i in self.inputs)}) => {self.output}"


T = Generic("T")
U = Generic("U")
K = Generic("K")
V = Generic("V")
ANY_DECIMAL: ty.SqlType = AnyDecimal()
ANY_STRUCT: ty.SqlType = AnyStruct()


@dataclass(frozen=True)
class Signature:
    """One overload: parameter patterns, return type (or a rule), and the implementation.

    `variadic` repeats the last parameter zero or more times. `null_in_null_out` returns
    None without calling `call` whenever any argument is None, as most of ksqlDB's UDFs do.
    `factory` marks a stateful function: `call()` makes a fresh implementation per call site.
    """

    params: tuple[ty.SqlType, ...]
    returns: ReturnSpec
    call: Callable[..., Any]
    variadic: bool = False
    null_in_null_out: bool = True
    factory: bool = False


@dataclass
class FunctionInfo:
    """A scalar function: its name, how ksqlDB spells it in errors, description, overloads."""

    name: str
    description: str
    java_name: str
    category: str
    signatures: list[Signature] = field(default_factory=list)


@dataclass(frozen=True)
class ResolvedFunction:
    """The overload chosen for a call: the result type and a callable over argument values."""

    name: str
    return_type: ty.SqlType
    call: Callable[..., Any]
