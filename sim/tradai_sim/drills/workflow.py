"""The backtest workflow as a drill sees it: a job's strategy task and its executions, and a
service's tasks, through the AWS APIs (ECS, Step Functions) and the harness's task list."""

from __future__ import annotations

from typing import Any

from tradai_sim.drills.context import DrillContext


def running_task(ctx: DrillContext, job_id: str) -> str | None:
    """The ARN of the job's strategy task while it is RUNNING."""
    ecs = ctx.client("ecs")
    cluster = ctx.name("strategies")
    arns = ecs.list_tasks(cluster=cluster, desiredStatus="RUNNING").get("taskArns", [])
    for i in range(0, len(arns), 100):
        for task in ecs.describe_tasks(cluster=cluster, tasks=arns[i:i + 100])["tasks"]:
            if task.get("group") == f"backtest:{job_id}" and task["lastStatus"] == "RUNNING":
                return str(task["taskArn"])
    return None


def state_machine_arn(ctx: DrillContext) -> str:
    cached = ctx.status_cache.get("_backtest_workflow")
    if cached is None:
        sfn = ctx.client("stepfunctions")
        name = ctx.name("backtest-workflow")
        cached = next(m["stateMachineArn"] for page in sfn.get_paginator(
            "list_state_machines").paginate() for m in page["stateMachines"]
            if m["name"] == name)
        ctx.status_cache["_backtest_workflow"] = cached
    return str(cached)


def execution_count(ctx: DrillContext, job_id: str) -> int:
    sfn = ctx.client("stepfunctions")
    return sum(1 for page in sfn.get_paginator("list_executions").paginate(
        stateMachineArn=state_machine_arn(ctx)) for e in page["executions"]
        if e["name"] == job_id)


def service_tasks(ctx: DrillContext, service: str) -> list[dict[str, Any]]:
    """RUNNING tasks of an ECS service, with AZ and start time (the harness's view)."""
    group = f"service:{ctx.name(service)}"
    return [t for t in ctx.control("/ecs/tasks")["tasks"]
            if t["group"] == group and t["last_status"] == "RUNNING"]


def run_stray_task(ctx: DrillContext, job_id: str) -> str:
    """A strategy task in the job's task group that only waits (it would be billed until
    someone stops it), placed like the workflow's own tasks."""
    ecs = ctx.client("ecs")
    cluster = ctx.name("strategies")
    family = ctx.name("strategy")
    service = ecs.describe_services(cluster=cluster, services=[ctx.name("backend-api")])
    net = service["services"][0]["networkConfiguration"]
    resp = ecs.run_task(
        cluster=cluster, taskDefinition=family, launchType="FARGATE", group=f"backtest:{job_id}",
        networkConfiguration=net, startedBy="drill",
        overrides={"containerOverrides": [{"name": "strategy", "command": [
            "python", "-c", "import time; time.sleep(7200)"]}]})
    if not resp["tasks"]:
        raise RuntimeError(f"RunTask failed: {resp['failures']}")
    return str(resp["tasks"][0]["taskArn"])
