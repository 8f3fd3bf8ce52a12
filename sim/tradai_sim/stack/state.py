"""The stack's state directory: what is running, on which port, started when."""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path

STACK_FILE = "stack.json"
DEFAULT_STATE_DIR = Path(".tradai") / "stack"


@dataclass
class StackRecord:
    pid: int
    port: int
    endpoint: str
    time_scale: float
    started_at: float

    @classmethod
    def read(cls, state_dir: Path) -> StackRecord | None:
        path = state_dir / STACK_FILE
        if not path.exists():
            return None
        return cls(**json.loads(path.read_text()))

    def write(self, state_dir: Path) -> None:
        (state_dir / STACK_FILE).write_text(json.dumps(asdict(self)))


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # a zombie is not alive
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(")")[-1].split()[0] != "Z"
    except OSError:
        return True
