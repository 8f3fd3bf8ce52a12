"""``aws:ec2:terminate-instances`` and ``aws:ec2:stop-instances``, through the emulator's own
EC2 API as FIS calls EC2 on AWS."""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from tradai_sim.cloud.fis.actions.base import ActionFailed, Injection


class TerminateInstances(Injection):
    def start(self) -> None:
        self.ids = [r.id for r in self.env.resources("Instances")]
        try:
            self.env.ctx.client("ec2").terminate_instances(InstanceIds=self.ids)
        except ClientError as exc:
            raise ActionFailed(f"TerminateInstances failed: {exc}") from exc
        self.notes.append(f"terminated instances cannot be restored: {', '.join(self.ids)}")

    def detail(self) -> dict[str, Any]:
        return {"instances": self.ids}


class StopInstances(Injection):
    """Stopped now; started again after ``startInstancesAfterDuration`` when it is given (the
    action runs until then), or when the experiment stops before that."""

    def start(self) -> None:
        self.ids = [r.id for r in self.env.resources("Instances")]
        self.restart = self.env.seconds("startInstancesAfterDuration")
        try:
            self.env.ctx.client("ec2").stop_instances(InstanceIds=self.ids)
        except ClientError as exc:
            raise ActionFailed(f"StopInstances failed: {exc}") from exc
        self.duration = self.restart
        if self.restart is None:
            self.notes.append("instances stay stopped (no startInstancesAfterDuration): "
                              + ", ".join(self.ids))

    def end(self) -> None:
        if self.restart is None:
            return
        ec2 = self.env.ctx.client("ec2")
        states = {i["InstanceId"]: i["State"]["Name"]
                  for r in ec2.describe_instances(InstanceIds=self.ids)["Reservations"]
                  for i in r["Instances"]}
        gone = [i for i in self.ids if states.get(i) in ("terminated", "shutting-down", None)]
        alive = [i for i in self.ids if i not in gone]
        if alive:
            ec2.start_instances(InstanceIds=alive)
        if gone:
            self.notes.append(f"terminated meanwhile, not started: {', '.join(gone)}")
            if self.env.param("completeIfInstancesTerminated") != "true":
                raise ActionFailed(f"instances were terminated before they could be started: "
                                   f"{', '.join(gone)}")

    def detail(self) -> dict[str, Any]:
        return {"instances": self.ids, "start_after_seconds": self.restart}
