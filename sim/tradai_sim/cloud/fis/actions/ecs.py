"""``aws:ecs:stop-task``: StopTask on each targeted task through the emulator's ECS API (the
service scheduler then replaces service tasks, as on AWS)."""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from tradai_sim.cloud.fis.actions.base import ActionFailed, Injection


class StopTasks(Injection):
    def start(self) -> None:
        ecs = self.env.ctx.client("ecs")
        self.tasks = []
        for task in self.env.resources("Tasks"):
            try:
                ecs.stop_task(cluster=str(task.detail.get("clusterArn", "")), task=task.arn,
                              reason=f"Task stopped by AWS FIS experiment "
                                     f"{self.env.experiment_id}")
            except ClientError as exc:
                raise ActionFailed(f"StopTask {task.id} failed: {exc}") from exc
            self.tasks.append(task.arn)
        self.notes.append(f"stopped tasks cannot be resumed (their services start new ones): "
                          f"{', '.join(t.rsplit('/', 1)[-1] for t in self.tasks)}")

    def detail(self) -> dict[str, Any]:
        return {"tasks": self.tasks}
