"""``tradai:rds:instance-down``: the stack's RDS instance (the rds part's PostgreSQL server) is
stopped for the duration and started again at its end.

On AWS the equivalent is ``StopDBInstance`` then ``StartDBInstance``
(https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/USER_StopInstance.html: the endpoint is
kept, clients' connections are closed), or FIS's ``aws:rds:reboot-db-instances`` with
``forceFailover`` for a shorter outage
(https://docs.aws.amazon.com/fis/latest/userguide/fis-actions-reference.html). Locally the
server gets a fast shutdown (sessions end, data flushed) and starts on the same port and data.
"""

from __future__ import annotations

from typing import Any

from tradai_sim.cloud.fis.actions.base import ActionFailed, Injection

RDS = "_rds"


class InstanceDown(Injection):
    def start(self) -> None:
        self.rds = self.env.ctx.resources.get(RDS)
        if self.rds is None:
            raise ActionFailed("this stack runs no RDS instance (MLflow's store is SQLite: "
                               "tradai-sim up --mlflow-store sqlite); use "
                               "tradai:mlflow:database-down for that store")
        try:
            self.rds.stop_instance(f"stopped by {self.env.label}")
        except RuntimeError as exc:
            raise ActionFailed(str(exc)) from exc
        self.duration = self.env.seconds("duration")

    def end(self) -> None:
        self.rds.start_instance()
        if not self.rds.cluster.running:
            self.notes.append(f"the instance did not come back: {self.rds.state} "
                              f"({self.rds.reason})")

    def detail(self) -> dict[str, Any]:
        return {"db_instance": self.rds.identifier, "az": self.rds.az,
                "state": self.rds.state}
