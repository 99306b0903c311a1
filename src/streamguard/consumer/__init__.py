"""The alert consumer: typed, blacklist-enriched alerts into PostgreSQL, bad input to a DLQ."""

from __future__ import annotations

from streamguard.consumer.enrich import Enriched, enrich, risk_score
from streamguard.consumer.loop import AlertConsumer

__all__ = ["AlertConsumer", "Enriched", "enrich", "risk_score"]
