"""Judges a REST QTT test's responses as ksqlDB's REST test runner does: only the fields the
expected entity names, rows of a query in any order, errors by HTTP status and message part."""

from __future__ import annotations

import json
from typing import Any

__all__ = ["compare_response", "judge_error"]


def judge_error(status_code: int, body: Any, expected: dict[str, Any]) -> tuple[str, str]:
    """(status, reason) of a request that failed where the test expects `expected`."""
    status = expected.get("status")
    if status is not None and status_code != int(status):
        return "failed", f"expected HTTP {status}, got {status_code}"
    message = str(expected.get("message", ""))
    got = str(body.get("message", "")) if isinstance(body, dict) else str(body)
    if message not in got:
        return "failed", f"expected error {message!r}, got {got!r}"
    return "passed", ""


def compare_response(want: Any, got: Any) -> str | None:
    """As `_compare`, but a query's rows in any order, as ksqlDB's REST test runner compares
    them (confluentinc/ksql#8202): rows from several partitions come in no fixed order."""
    if not (isinstance(want, dict) and "query" in want and isinstance(got, dict)):
        return _compare(want, got)
    rows = [w for w in want["query"] if isinstance(w, dict) and "row" in w]
    others = [w for w in want["query"] if not (isinstance(w, dict) and "row" in w)]
    got_items = got.get("query")
    if not isinstance(got_items, list):
        return _compare(want, got)
    got_rows = [g for g in got_items if isinstance(g, dict) and "row" in g]
    got_others = [g for g in got_items if not (isinstance(g, dict) and "row" in g)]
    if len(rows) != len(got_rows):
        return f"expected {len(rows)} rows, got {len(got_rows)}: {json.dumps(got_rows)[:200]}"
    unmatched = list(got_rows)
    for row in rows:
        match = next((i for i, g in enumerate(unmatched) if _compare(row, g) is None), None)
        if match is None:
            return f"row {json.dumps(row)[:120]} not among {json.dumps(unmatched)[:200]}"
        unmatched.pop(match)
    return _compare(others, got_others)


def _compare(want: Any, got: Any) -> str | None:
    """None when `got` has everything `want` has (QTT compares expected fields only)."""
    if isinstance(want, dict):
        if not isinstance(got, dict):
            return f"expected {json.dumps(want)[:120]}, got {json.dumps(got)[:120]}"
        for key, value in want.items():
            field, _, op = key.partition("|")
            if op == "starts_with":
                if not str(got.get(field, "")).startswith(str(value)):
                    return f"{field}: {got.get(field)!r} does not start with {value!r}"
                continue
            if field not in got:
                return f"missing {field!r} in {json.dumps(got)[:160]}"
            problem = _compare(value, got[field])
            if problem:
                return f"{field}: {problem}"
        return None
    if isinstance(want, list):
        if not isinstance(got, list) or len(got) != len(want):
            return f"expected {json.dumps(want)[:200]}, got {json.dumps(got)[:200]}"
        for w, g in zip(want, got, strict=True):
            problem = _compare(w, g)
            if problem:
                return problem
        return None
    if (
        isinstance(want, float | int)
        and isinstance(got, float | int)
        and not isinstance(want, bool)
    ):
        return None if float(want) == float(got) else f"expected {want}, got {got}"
    return None if want == got else f"expected {want!r}, got {got!r}"
