"""``aws:ec2:asg-insufficient-instance-capacity-error``: launches of the targeted groups in
the given AZs fail with InsufficientInstanceCapacity (the Auto Scaling part) for the
duration."""

from __future__ import annotations

from typing import Any

from tradai_sim.cloud.fis.actions.base import ActionFailed, Injection
from tradai_sim.cloud.fis.effectors import (
    AUTOSCALING,
    AutoscalingEffector,
    EffectorMissing,
    effector,
)


class InsufficientCapacity(Injection):
    def start(self) -> None:
        try:
            self.autoscaling: AutoscalingEffector = effector(self.env.ctx, AUTOSCALING)
        except EffectorMissing as exc:
            raise ActionFailed(str(exc)) from exc
        self.groups = [r.id for r in self.env.resources("AutoScalingGroups")]
        self.azs = [a.strip() for a in (self.env.param("availabilityZoneIdentifiers")
                                        or "").split(",")]
        self.fault = self.autoscaling.insufficient_capacity(
            self.groups, self.azs, int(self.env.param("percentage") or 100), self.env.label)
        self.duration = self.env.seconds("duration")

    def end(self) -> None:
        self.autoscaling.end_insufficient_capacity(self.fault)

    def detail(self) -> dict[str, Any]:
        return {"groups": self.groups, "azs": self.azs, "fault": self.fault}
