"""``tradai:az:outage``: an Availability Zone loses power or network (the zones part) for the
duration; on its end the zone comes back."""

from __future__ import annotations

from typing import Any

from tradai_sim.cloud.fis.actions.base import ActionFailed, Injection
from tradai_sim.cloud.fis.effectors import ZONES, EffectorMissing, ZonesEffector, effector


class AzOutage(Injection):
    def start(self) -> None:
        try:
            self.zones: ZonesEffector = effector(self.env.ctx, ZONES)
        except EffectorMissing as exc:
            raise ActionFailed(str(exc)) from exc
        self.az = self.env.param("availabilityZone") or ""
        self.kind = self.env.param("kind") or "power"
        self.outage = self.zones.outage(self.az, self.kind, self.env.label)
        self.duration = self.env.seconds("duration")
        if self.kind == "power":
            self.notes.append(f"processes killed by the power loss in {self.az} stay dead "
                              "(their services and groups replace them)")

    def end(self) -> None:
        self.zones.end_outage(self.outage)

    def detail(self) -> dict[str, Any]:
        return {"az": self.az, "kind": self.kind, "outage": self.outage}
