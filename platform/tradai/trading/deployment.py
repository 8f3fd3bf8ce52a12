"""A trading session on ECS: its own task definition revision and a service of one task.

A service cannot override a container's environment, so each session registers a revision
of its own (family ``<project>-<env>-session-<id>``) that copies the strategy task definition
(image, entrypoint, roles, cpu, memory) and adds only ``STRATEGY_NAME``, ``STRATEGY_STAGE``
and ``TRADING_MODE``. The service keeps exactly one task (desiredCount 1) and replaces it when
it dies; dry-run runs on FARGATE_SPOT, live on FARGATE (a capacity provider strategy, so no
launchType: https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_CreateService.html).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from tradai.trading.errors import SessionConflict, TradingUnavailable
from tradai.trading.settings import TradingSettings

SESSION_VARIABLES = ("STRATEGY_NAME", "STRATEGY_STAGE", "TRADING_MODE")
CAPACITY_PROVIDERS = {"dry-run": "FARGATE_SPOT", "live": "FARGATE"}
# What RegisterTaskDefinition takes from a described definition (the rest is read-only state).
_COPIED = ("taskRoleArn", "executionRoleArn", "networkMode", "volumes", "placementConstraints",
           "requiresCompatibilities", "cpu", "memory", "pidMode", "ipcMode",
           "proxyConfiguration", "inferenceAccelerators", "ephemeralStorage", "runtimePlatform")


@dataclass(frozen=True)
class Deployed:
    service_name: str
    service_arn: str
    task_definition_arn: str
    capacity_provider: str


def session_environment(base: list[dict[str, str]], strategy: str, ref: str,
                        mode: str) -> list[dict[str, str]]:
    """The strategy container's environment plus the three session variables (which win)."""
    added = {"STRATEGY_NAME": strategy, "STRATEGY_STAGE": ref, "TRADING_MODE": mode}
    kept = [e for e in base if e.get("name") not in added]
    return kept + [{"name": k, "value": v} for k, v in added.items()]


class SessionDeployment:
    def __init__(self, ecs: Any, settings: TradingSettings) -> None:
        self.ecs = ecs
        self.settings = settings

    def start(self, session_id: str, strategy: str, ref: str, mode: str) -> Deployed:
        """Register the session's task definition and create its service; on a failure,
        whatever was created is removed again."""
        if not self.settings.subnets or not self.settings.security_groups:
            raise TradingUnavailable("trading sessions are not configured: "
                                     "TRADAI_PRIVATE_SUBNETS and TRADAI_STRATEGY_SECURITY_GROUPS "
                                     "must name the strategy tasks' subnets and security group")
        name = self.settings.session_resource(session_id)
        provider = CAPACITY_PROVIDERS[mode]
        task_definition = self._register(name, strategy, ref, mode)
        try:
            service = self.ecs.create_service(
                cluster=self.settings.cluster, serviceName=name, taskDefinition=task_definition,
                desiredCount=1,
                capacityProviderStrategy=[{"capacityProvider": provider, "weight": 1}],
                # Never two bots of one session at once (they would trade twice): a new task
                # starts only after the old one stopped.
                deploymentConfiguration={"maximumPercent": 100, "minimumHealthyPercent": 0},
                networkConfiguration={"awsvpcConfiguration": {
                    "subnets": list(self.settings.subnets),
                    "securityGroups": list(self.settings.security_groups),
                    "assignPublicIp": "DISABLED"}})["service"]
        except (ClientError, BotoCoreError) as exc:
            self._deregister(task_definition)
            if _code(exc) == "InvalidParameterException" and "idempotent" in str(exc):
                # The previous session's service is still draining (DeleteService).
                raise SessionConflict(f"the previous {mode} session of {strategy} is still "
                                      "shutting down; try again in a minute") from None
            raise TradingUnavailable(f"ECS refused to create the session's service: "
                                     f"{_describe(exc)}") from None
        return Deployed(service_name=name, service_arn=service["serviceArn"],
                        task_definition_arn=task_definition, capacity_provider=provider)

    def stop(self, service_name: str, task_definition_arn: str | None) -> None:
        """Scale to 0, delete the service, deregister its revision. Idempotent: what is
        already gone is skipped, so a stop interrupted half-way can be repeated."""
        cluster = self.settings.cluster
        try:
            try:
                self.ecs.update_service(cluster=cluster, service=service_name, desiredCount=0)
                self.ecs.delete_service(cluster=cluster, service=service_name)
            except ClientError as exc:
                if _code(exc) not in ("ServiceNotFoundException", "ServiceNotActiveException"):
                    raise
            if task_definition_arn:
                self._deregister(task_definition_arn, quiet=False)
        except (ClientError, BotoCoreError) as exc:
            raise TradingUnavailable(f"ECS did not stop the session's service: "
                                     f"{_describe(exc)}") from None

    # -- task definitions -----------------------------------------------------------------
    def _register(self, family: str, strategy: str, ref: str, mode: str) -> str:
        try:
            base = self.ecs.describe_task_definition(
                taskDefinition=self.settings.strategy_family)["taskDefinition"]
            containers = [dict(c) for c in base["containerDefinitions"]]
            # The strategy definition has one container: the strategy image.
            containers[0]["environment"] = session_environment(
                containers[0].get("environment") or [], strategy, ref, mode)
            copied = {k: base[k] for k in _COPIED if base.get(k) not in (None, [], {})}
            return str(self.ecs.register_task_definition(
                family=family, containerDefinitions=containers, **copied)[
                "taskDefinition"]["taskDefinitionArn"])
        except (ClientError, BotoCoreError) as exc:
            raise TradingUnavailable(f"cannot register the session's task definition from "
                                     f"{self.settings.strategy_family}: {_describe(exc)}"
                                     ) from None

    def _deregister(self, arn: str, quiet: bool = True) -> None:
        try:
            self.ecs.deregister_task_definition(taskDefinition=arn)
        except ClientError as exc:
            # Already INACTIVE (a repeated stop) is done; anything else matters on a stop.
            if not quiet and _code(exc) not in ("ClientException", "InvalidParameterException"):
                raise
        except BotoCoreError:
            if not quiet:
                raise


def _code(exc: Exception) -> str:
    return str(getattr(exc, "response", {}).get("Error", {}).get("Code", ""))


def _describe(exc: Exception) -> str:
    if isinstance(exc, ClientError):
        err = exc.response.get("Error", {})
        return f"{err.get('Code')}: {err.get('Message')}"
    return f"{type(exc).__name__}: {exc}"
