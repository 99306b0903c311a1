"""Finds QTT files and expands each test into its runnable variants (format x config)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["RUNNABLE_FORMATS", "Variant", "load_file", "load_scope", "select_files"]

# Of a test's `format` list only these run (scope.json's per_test_rule).
RUNNABLE_FORMATS = ("JSON", "KAFKA", "DELIMITED", "NONE")
SCHEMA_REGISTRY_FORMATS = ("AVRO", "PROTOBUF", "PROTOBUF_NOSR", "JSON_SR")


@dataclass
class Variant:
    file: str
    name: str
    variant: str
    test: dict[str, Any]
    skip_reason: str | None = None
    statements: list[str] = field(default_factory=list)
    properties: dict[str, str] = field(default_factory=dict)


def load_scope(root: Path) -> dict[str, Any]:
    path = root / "scope.json"
    if not path.exists():
        return {}
    data: dict[str, Any] = json.loads(path.read_text())
    return data


def select_files(root: Path, tier: str, names: list[str] | None) -> list[Path]:
    """The test files of `root` in the tier asked for, narrowed to `names` (stems) if given."""
    scope = load_scope(root)
    tier1 = set(scope.get("tier1", []))
    excluded = set(scope.get("excluded", {}))
    files = sorted(
        p
        for sub in ("query-validation-tests", "rest-query-validation-tests")
        for p in (root / sub).glob("*.json")
    )
    out = []
    for p in files:
        rel = f"{p.parent.name}/{p.name}"
        if rel in excluded:
            continue
        in_tier1 = rel in tier1 or not tier1
        if tier == "1" and not in_tier1:
            continue
        if tier == "2" and in_tier1:
            continue
        if names and p.stem not in names and p.name not in names and rel not in names:
            continue
        out.append(p)
    return out


def _substitute(value: Any, placeholder: str, replacement: str) -> Any:
    if isinstance(value, str):
        return value.replace(placeholder, replacement)
    if isinstance(value, list):
        return [_substitute(v, placeholder, replacement) for v in value]
    if isinstance(value, dict):
        return {k: _substitute(v, placeholder, replacement) for k, v in value.items()}
    return value


def load_file(path: Path) -> list[Variant]:
    data = json.loads(path.read_text())
    rel = f"{path.parent.name}/{path.name}"
    variants: list[Variant] = []
    for test in data.get("tests", []):
        name = str(test.get("name", "?"))
        if test.get("enabled") is False:
            variants.append(Variant(rel, name, "", test, 'test says "enabled": false'))
            continue
        formats = test.get("format")
        configs = test.get("config")
        if formats:
            runnable = [f for f in formats if str(f).upper() in RUNNABLE_FORMATS]
            if not runnable:
                variants.append(
                    Variant(rel, name, "", test, f"needs {'/'.join(map(str, formats))}")
                )
                continue
            format_list: list[str | None] = list(runnable)
        else:
            format_list = [None]
        config_list: list[str | None] = list(configs) if configs else [None]
        for fmt in format_list:
            for cfg in config_list:
                t = test
                label = []
                if fmt is not None:
                    t = _substitute(t, "{FORMAT}", fmt)
                    label.append(fmt)
                if cfg is not None:
                    t = _substitute(t, "{CONFIG}", cfg)
                    label.append(f"config={cfg}")
                v = Variant(rel, name, " ".join(label), t)
                v.statements = list(t.get("statements", []))
                v.properties = {k: str(val) for k, val in t.get("properties", {}).items()}
                if _needs_schema_registry(v.statements):
                    v.skip_reason = "needs a Schema Registry format"
                variants.append(v)
    return variants


def _needs_schema_registry(statements: list[str]) -> bool:
    text = " ".join(statements).upper().replace(" ", "")
    return any(f"FORMAT='{f}'" in text for f in SCHEMA_REGISTRY_FORMATS)
