"""The local stack's state on disk: ports chosen, pids started, addresses, under one state dir."""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

STATE_FILE = "stack.json"

Intent = Literal["run", "stop"]


@dataclass
class PartState:
    """What the stack recorded about one part: where it listens and which process it started."""

    port: int | None = None
    pid: int | None = None
    url: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    # What was last asked of the part: "run" (by `up` or `apps`), "stop" (by `down`), or nothing
    # yet. It tells a part stopped on purpose, or never started, from one that died.
    intent: Intent | None = None


@dataclass
class StackState:
    """Every part's record, read from and written to `<state_dir>/stack.json`."""

    state_dir: Path
    parts: dict[str, PartState] = field(default_factory=dict)

    @classmethod
    def load(cls, state_dir: Path) -> StackState:
        path = state_dir / STATE_FILE
        try:
            raw = json.loads(path.read_text())
        except FileNotFoundError:
            return cls(state_dir)
        parts = {name: PartState(**data) for name, data in raw.items() if isinstance(data, dict)}
        return cls(state_dir, parts)

    def part(self, name: str) -> PartState:
        return self.parts.setdefault(name, PartState())

    def save(self) -> None:
        self.state_dir.mkdir(parents=True, exist_ok=True)
        path = self.state_dir / STATE_FILE
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps({k: asdict(v) for k, v in self.parts.items()}, indent=2))
        # A reader never sees half a file: commands read it while `up` may be writing it.
        os.replace(tmp, path)
