"""What every component needs: the spec, the stack settings, names, ARNs and tags."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi

from tradai.topology import Topology
from tradai.topology.naming import physical_name
from tradai_infra.config import StackSettings


@dataclass(frozen=True)
class Context:
    topo: Topology
    settings: StackSettings
    account_id: pulumi.Output[str]

    @property
    def env(self) -> str:
        return self.settings.env

    @property
    def region(self) -> str:
        return self.settings.region

    def name(self, logical: str) -> str:
        """The physical name, the same rule the local cloud uses."""
        return physical_name(self.topo.project, self.env, logical)

    @property
    def tags(self) -> dict[str, str]:
        return {"project": self.topo.project, "env": self.env, "managed-by": "pulumi"}

    def arn(self, service: str, resource: str, *, region: bool = True) -> pulumi.Output[str]:
        """An ARN in this account, for resources whose ARN is needed before they exist."""
        where = self.region if region else ""
        return self.account_id.apply(lambda acct: f"arn:aws:{service}:{where}:{acct}:{resource}")

    # ARNs derived from physical names, so policies can reference resources declared later
    # (a state machine invokes Lambdas whose roles may start that same state machine).
    def lambda_arn(self, logical: str) -> pulumi.Output[str]:
        return self.arn("lambda", f"function:{self.name(logical)}")

    def state_machine_arn(self, logical: str) -> pulumi.Output[str]:
        return self.arn("states", f"stateMachine:{self.name(logical)}")

    def task_family_arn(self, logical: str) -> pulumi.Output[str]:
        return self.arn("ecs", f"task-definition/{self.name(logical)}:*")

    def role_name(self, logical: str, kind: str) -> str:
        return self.name(f"{logical}-{kind}")

    def role_arn(self, logical: str, kind: str) -> pulumi.Output[str]:
        return self.arn("iam", f"role/{self.role_name(logical, kind)}", region=False)

    @property
    def cluster_name(self) -> str:
        return self.name(self.topo.cluster)
