"""What cancelling a backtest needs on AWS, and nothing wider: the backend API may stop the
backtest workflow's executions (``states:StopExecution`` on its execution ARNs) and stop,
find and describe tasks of the cluster only (``ecs:StopTask`` / ``ecs:DescribeTasks`` on the
cluster's tasks and ``ecs:ListTasks``, each conditioned on ``ecs:cluster``); the backtest
consumer may stop the executions it starts (a job cancelled while it was being started).

AWS pages: https://docs.aws.amazon.com/service-authorization/latest/reference/
list_awsstepfunctions.html (StopExecution takes the execution resource),
https://docs.aws.amazon.com/service-authorization/latest/reference/
list_amazonelasticcontainerservice.html (StopTask, DescribeTasks: the task resource and the
ecs:cluster condition key; ListTasks: the container-instance resource or "*").
"""

from __future__ import annotations

from typing import Any

from tests.infra.conftest import Deployed
from tests.infra.mocks import ACCOUNT

REGION = "eu-central-1"


def _statements(deployed: Deployed, role_name: str) -> list[dict[str, Any]]:
    [role] = [r for r in deployed.of_type("aws:iam/role:Role")
              if r.inputs.get("name") == role_name]
    return list(deployed.role_policy(role)["Statement"])


def _list(v: Any) -> list[Any]:
    return [v] if isinstance(v, str) else list(v)


def _granting(stmts: list[dict[str, Any]], action: str) -> list[dict[str, Any]]:
    return [s for s in stmts if action in _list(s["Action"])]


def test_backend_stops_only_backtest_workflow_executions(deployed: Deployed) -> None:
    stmts = _statements(deployed, deployed.name("backend-api-task"))
    [stmt] = _granting(stmts, "states:StopExecution")
    assert _list(stmt["Action"]) == ["states:StopExecution"]
    assert _list(stmt["Resource"]) == [
        f"arn:aws:states:{REGION}:{ACCOUNT}:execution:{deployed.name('backtest-workflow')}:*"]
    assert not stmt.get("Condition")
    # Nothing else of Step Functions: no start, no other machine.
    assert {a for s in stmts for a in _list(s["Action"]) if a.startswith("states:")} == {
        "states:StopExecution"}


def test_backend_stops_and_finds_tasks_of_the_cluster_only(deployed: Deployed) -> None:
    stmts = _statements(deployed, deployed.name("backend-api-task"))
    cluster = f"arn:aws:ecs:{REGION}:{ACCOUNT}:cluster/{deployed.name('strategies')}"
    tasks = f"arn:aws:ecs:{REGION}:{ACCOUNT}:task/{deployed.name('strategies')}/*"
    [stop] = _granting(stmts, "ecs:StopTask")
    assert set(_list(stop["Action"])) == {"ecs:StopTask", "ecs:DescribeTasks"}
    assert _list(stop["Resource"]) == [tasks]
    assert stop["Condition"] == {"ArnEquals": {"ecs:cluster": cluster}}
    [listing] = _granting(stmts, "ecs:ListTasks")
    assert _list(listing["Action"]) == ["ecs:ListTasks"]
    assert listing["Condition"] == {"ArnEquals": {"ecs:cluster": cluster}}
    # It never starts a task itself (the workflow does).
    assert not _granting(stmts, "ecs:RunTask")


def test_consumer_may_stop_the_executions_it_starts(deployed: Deployed) -> None:
    stmts = _statements(deployed, deployed.name("backtest-consumer-fn"))
    [stmt] = _granting(stmts, "states:StopExecution")
    assert _list(stmt["Resource"]) == [
        f"arn:aws:states:{REGION}:{ACCOUNT}:execution:{deployed.name('backtest-workflow')}:*"]
