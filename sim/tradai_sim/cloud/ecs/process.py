"""Turning a container definition into an OS process, and stopping it like ECS does."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# The container image's interpreter is this environment's interpreter (no images locally).
_PYTHON_NAMES = {"python", "python3", f"python3.{sys.version_info.minor}"}


@dataclass(frozen=True)
class ContainerLaunch:
    argv: list[str]
    env: dict[str, str]
    cwd: Path
    log_path: Path


def container_command(definition: Mapping[str, Any], overrides: Mapping[str, Any]) -> list[str]:
    """entryPoint + command, with the run's containerOverrides command winning."""
    override = _container_override(definition, overrides)
    command = list(override.get("command") or definition.get("command") or [])
    argv = list(definition.get("entryPoint") or []) + command
    if not argv:
        raise ValueError(f"container {definition.get('name')!r} has no command")
    if argv[0] in _PYTHON_NAMES:
        argv[0] = sys.executable
    return argv


def container_environment(definition: Mapping[str, Any],
                          overrides: Mapping[str, Any]) -> dict[str, str]:
    """The definition's environment, then the run's containerOverrides environment."""
    env = {e["name"]: str(e.get("value", "")) for e in definition.get("environment") or []}
    override = _container_override(definition, overrides)
    env.update({e["name"]: str(e.get("value", "")) for e in override.get("environment") or []})
    return env


def _container_override(definition: Mapping[str, Any],
                        overrides: Mapping[str, Any]) -> Mapping[str, Any]:
    for o in (overrides or {}).get("containerOverrides") or []:
        if o.get("name") == definition.get("name"):
            return o
    return {}


def start(launch: ContainerLaunch) -> subprocess.Popen[bytes]:
    """Its own session and process group, so stopping the task stops all it spawned."""
    launch.cwd.mkdir(parents=True, exist_ok=True)
    with launch.log_path.open("ab") as log:
        return subprocess.Popen(
            launch.argv, env=launch.env, cwd=launch.cwd, stdin=subprocess.DEVNULL,
            stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )


def signal_group(pid: int, sig: signal.Signals) -> bool:
    try:
        os.killpg(pid, sig)
        return True
    except (ProcessLookupError, PermissionError):
        return False


def exit_code(returncode: int) -> int:
    """A container killed by a signal reports 128 + signal number (137 SIGKILL, 143 SIGTERM)."""
    return 128 - returncode if returncode < 0 else returncode
