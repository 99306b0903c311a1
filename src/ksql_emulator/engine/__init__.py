"""Statements -> catalog changes and running queries; one handler per statement kind."""

from __future__ import annotations

from ksql_emulator.engine.base import StatementOutcome
from ksql_emulator.engine.dispatch import Engine

__all__ = ["Engine", "StatementOutcome"]
