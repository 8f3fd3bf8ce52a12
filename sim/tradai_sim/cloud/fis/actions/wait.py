"""``aws:fis:wait``: nothing happens for the duration; stop conditions are still watched."""

from __future__ import annotations

from tradai_sim.cloud.fis.actions.base import Injection


class Wait(Injection):
    def start(self) -> None:
        self.duration = self.env.seconds("duration")
