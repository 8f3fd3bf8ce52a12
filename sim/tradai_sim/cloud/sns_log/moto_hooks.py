"""The moto side of the published-message log (patched in ``moto_patches.PATCHES``): every
message a topic accepts is recorded after moto has delivered it to the subscriptions."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from tradai.clock import Clock
from tradai_sim.cloud.sns_log.recorder import PublishedLog

_log: PublishedLog | None = None
_clock: Clock | None = None


def install(log: PublishedLog | None, clock: Clock | None) -> None:
    global _log, _clock
    _log, _clock = log, clock


def topic_publish(original: Callable[..., Any]) -> Callable[..., Any]:
    def publish(self: Any, message: str, subject: str | None = None,
                message_attributes: dict[str, Any] | None = None, group_id: str | None = None,
                deduplication_id: str | None = None,
                message_structure: str | None = None) -> str:
        message_id = original(self, message, subject=subject,
                              message_attributes=message_attributes, group_id=group_id,
                              deduplication_id=deduplication_id,
                              message_structure=message_structure)
        if _log is not None:
            wall = time.time()
            sim = _clock.now() if _clock is not None else wall
            _log.record(self.arn, subject, message, message_id, sim, wall)
        return str(message_id)

    return publish
