"""Where the CLI keeps its login: ``$XDG_CONFIG_HOME/tradai/credentials.json`` (default
``~/.config``), readable by the owner only (0600 in a 0700 folder)."""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, fields
from pathlib import Path


@dataclass
class Credentials:
    api_url: str | None = None
    access_token: str | None = None
    id_token: str | None = None
    refresh_token: str | None = None
    expires_at: float | None = None
    region: str | None = None
    client_id: str | None = None
    endpoint_url: str | None = None  # a Cognito emulator's URL; None for AWS


def config_dir() -> Path:
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "tradai"


def path() -> Path:
    return config_dir() / "credentials.json"


def load() -> Credentials:
    try:
        raw = json.loads(path().read_text())
    except (OSError, ValueError):
        return Credentials()
    known = {f.name for f in fields(Credentials)}
    return Credentials(**{k: v for k, v in raw.items() if k in known})


def save(creds: Credentials) -> Path:
    folder = config_dir()
    folder.mkdir(parents=True, exist_ok=True)
    folder.chmod(0o700)
    target = path()
    # Created with 0600 from the start: no moment where another user could read it.
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        json.dump(asdict(creds), f, indent=2)
    target.chmod(0o600)
    return target
