"""The transaction producer: a seeded population, labelled fraud scenarios, paced sending."""

from __future__ import annotations

from streamguard.producer.errors import ProducerError, ReplayError, SendError
from streamguard.producer.generator import Generated, TransactionGenerator
from streamguard.producer.population import Population
from streamguard.producer.scenarios import SCENARIO_HEADER, Limits, Scenario

__all__ = [
    "SCENARIO_HEADER",
    "Generated",
    "Limits",
    "Population",
    "ProducerError",
    "ReplayError",
    "Scenario",
    "SendError",
    "TransactionGenerator",
]
