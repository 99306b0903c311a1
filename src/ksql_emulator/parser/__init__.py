"""ksqlDB statement text -> syntax tree."""

from __future__ import annotations

from ksql_emulator.parser.grammar import parse, parse_expression, parse_type

__all__ = ["parse", "parse_expression", "parse_type"]
