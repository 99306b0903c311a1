"""The web console: alerts, rules, the pipeline, a ksqlDB SQL editor and the blacklist."""

from __future__ import annotations
