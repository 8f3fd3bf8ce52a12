"""Action id -> what runs it."""

from __future__ import annotations

from tradai_sim.cloud.fis.actions import (
    api_errors,
    capacity,
    ec2,
    ecs,
    exchange,
    mlflow,
    network,
    process,
    rds,
    sqs,
    wait,
    zones,
)
from tradai_sim.cloud.fis.actions.base import ActionEnv, Injection

INJECTIONS: dict[str, type[Injection]] = {
    "aws:ec2:terminate-instances": ec2.TerminateInstances,
    "aws:ec2:stop-instances": ec2.StopInstances,
    "aws:ecs:stop-task": ecs.StopTasks,
    "aws:network:disrupt-connectivity": network.DisruptConnectivity,
    "aws:ec2:asg-insufficient-instance-capacity-error": capacity.InsufficientCapacity,
    "aws:fis:inject-api-internal-error": api_errors.InjectInternalError,
    "aws:fis:inject-api-throttle-error": api_errors.InjectThrottleError,
    "aws:fis:inject-api-unavailable-error": api_errors.InjectUnavailableError,
    "aws:fis:wait": wait.Wait,
    "tradai:fis:inject-api-internal-error": api_errors.InjectInternalError,
    "tradai:fis:inject-api-throttle-error": api_errors.InjectThrottleError,
    "tradai:fis:inject-api-unavailable-error": api_errors.InjectUnavailableError,
    "tradai:process:freeze": process.FreezeTasks,
    "tradai:exchange:outage": exchange.ExchangeOutage,
    "tradai:exchange:latency": exchange.ExchangeLatency,
    "tradai:exchange:throttle": exchange.ExchangeThrottle,
    "tradai:sqs:poison-messages": sqs.PoisonMessages,
    "tradai:mlflow:database-down": mlflow.DatabaseDown,
    "tradai:rds:instance-down": rds.InstanceDown,
    "tradai:az:outage": zones.AzOutage,
}


def create(env: ActionEnv) -> Injection:
    return INJECTIONS[env.spec.action_id](env)
