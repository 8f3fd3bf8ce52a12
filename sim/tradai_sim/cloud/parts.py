"""The shape every control-plane part has: started after the bootstrap, stopped on shutdown."""

from __future__ import annotations

from typing import Any, Protocol


class Part(Protocol):
    name: str

    def start(self) -> None: ...

    def stop(self) -> None: ...

    def status(self) -> dict[str, Any]: ...
