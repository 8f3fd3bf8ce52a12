"""What a request names, as the resource AWS authorises: facts only the service's state holds
(a secret's full ARN with its random suffix, a task definition's latest revision and roles, an
instance's or group's tags, an Auto Scaling group's ARN), read from moto's backends.

Each returns None when the resource does not exist; the mapping then judges the ARN the
request spelled (AWS also authorises before it looks the resource up)."""

from __future__ import annotations

from typing import Any


class Lookups:
    def __init__(self, account_id: str) -> None:
        self.account_id = account_id

    def secret_arn(self, region: str, secret_id: str) -> str | None:
        from moto.secretsmanager.models import secretsmanager_backends

        secret = secretsmanager_backends[self.account_id][region].secrets.get(secret_id)
        return str(secret.arn) if secret is not None else None

    def task_definition(self, region: str, family: str, revision: int | None) -> Any:
        from moto.ecs.models import ecs_backends

        revisions = ecs_backends[self.account_id][region].task_definitions.get(family) or {}
        if not revisions:
            return None
        return revisions.get(revision if revision is not None else max(revisions))

    def instance_tags(self, region: str, instance_id: str) -> dict[str, str] | None:
        from moto.ec2.models import ec2_backends

        backend = ec2_backends[self.account_id][region]
        try:
            backend.get_instance(instance_id)
        except Exception:
            return None
        return {str(t["key"]): str(t["value"])
                for t in backend.describe_tags(filters={"resource-id": [instance_id]})}

    def group(self, region: str, name: str) -> tuple[str, dict[str, str]] | None:
        """An Auto Scaling group's ARN and tags."""
        from moto.autoscaling.models import autoscaling_backends

        group = autoscaling_backends[self.account_id][region].autoscaling_groups.get(name)
        if group is None:
            return None
        tags = {str(t.get("Key", t.get("key"))): str(t.get("Value", t.get("value")))
                for t in (group.tags or [])}
        return str(group.arn), tags
