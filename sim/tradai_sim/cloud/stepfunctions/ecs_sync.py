"""``ecs:runTask.sync``: how the task's outcome reaches the state, as in AWS Step Functions.

- A task whose essential container failed fails the state with ``States.TaskFailed`` (cause:
  the task description as JSON); moto's sync resolver returns the stopped task whatever its
  exit code.
- RunTask answering HTTP 200 with a non-empty ``failures`` (no capacity in an AZ outage) fails
  a ``.sync`` / ``.waitForTaskToken`` state with ``AmazonECS.Unknown``; a request-response
  state returns the response
  (https://docs.aws.amazon.com/step-functions/latest/dg/connect-ecs.html). moto indexed
  ``Tasks[0]`` of the empty list and failed with ``States.Runtime``.
- A task the state was waiting for is stopped (StopTask) when the state stops waiting without
  its outcome: TimeoutSeconds or HeartbeatSeconds elapsed, or the execution was stopped.
  The ``.sync`` role policy grants ``ecs:StopTask`` for this; "you can only stop Amazon ECS
  tasks that were started by Step Functions"
  (https://docs.aws.amazon.com/step-functions/latest/dg/ecs-iam.html).
  moto left the task running.
- The state learns of its task's end when the task stops (Step Functions is told by ECS's
  events), not at moto's next DescribeTasks half a second later: ``wait_for_stop``.

Installed by ``tradai_sim.cloud.moto_patches``.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

from tradai_sim.cloud.ecs import stops
from tradai_sim.cloud.stepfunctions.failures import failure

log = logging.getLogger(__name__)
# Wall seconds between DescribeTasks while no task stops (moto's own interval): they notice a
# stopped execution and a task that stopped before the state began to wait.
SYNC_RECHECK = 0.5

_STOP_REASON = ("The Task state in AWS Step Functions execution [{execution}] which was "
                "managing this resource was aborted")


def task_failure(task: dict[str, Any]) -> str | None:
    """Why a stopped task (Step Functions casing) counts as failed, or None if it succeeded."""
    containers = task.get("Containers") or []
    failed = [c for c in containers if c.get("ExitCode") not in (0, None)]
    if failed:
        return ", ".join(f"{c.get('Name')} exited with {c.get('ExitCode')}" for c in failed)
    if task.get("StopCode") != "EssentialContainerExited":
        return f"task stopped: {task.get('StopCode')} ({task.get('StoppedReason')})"
    if any(c.get("ExitCode") is None for c in containers):
        return "an essential container has no exit code"
    return None


def build_sync_resolver(original: Callable[..., Any]) -> Callable[..., Any]:
    """Wraps ``StateTaskServiceEcs._build_sync_resolver``."""

    def build(self: Any, env: Any, resource_runtime_part: Any, normalised_parameters: dict,
              state_credentials: Any) -> Callable[[], Any] | None:
        submitted = env.stack[-1]  # the original pops the RunTask output
        resolver = original(self, env, resource_runtime_part, normalised_parameters,
                            state_credentials)
        if resolver is None:
            return None

        def resolve() -> Any:
            task = resolver()
            if isinstance(task, dict) and (reason := task_failure(task)) is not None:
                log.info("ecs:runTask.sync task %s failed: %s", task.get("TaskArn"), reason)
                raise failure(self, env, "States.TaskFailed", task)
            return task

        task = submitted["Tasks"][0]
        resolve.stop_task = lambda: _stop_task(  # type: ignore[attr-defined]
            env, resource_runtime_part.region, state_credentials, task["ClusterArn"],
            task["TaskArn"])
        return resolve

    return build


def eval_sync(original: Callable[..., Any]) -> Callable[..., Any]:
    """Wraps ``StateTaskServiceEcs._eval_sync`` (inherited from the callback base): the
    polling loop returns without the task when HeartbeatSeconds elapsed (a timed-out outcome)
    or the state's frame stopped running (TimeoutSeconds, a stopped execution); the task it
    waited for is then stopped."""

    def evaluate(self: Any, env: Any, sync_resolver: Callable[[], Any] | None,
                 timeout_seconds: int | None, callback_endpoint: Any,
                 heartbeat_endpoint: Any) -> Any:
        from moto.stepfunctions.parser.asl.eval.callback.callback import (
            CallbackOutcomeTimedOut,
            HeartbeatTimedOut,
        )

        if sync_resolver is None:
            outcome = original(self, env, sync_resolver, timeout_seconds, callback_endpoint,
                               heartbeat_endpoint)
        else:
            outcome = wait_for_stop(env, sync_resolver,
                                    _token_listener(self, env, timeout_seconds, callback_endpoint,
                                                    heartbeat_endpoint))
        stop = getattr(sync_resolver, "stop_task", None)
        timed_out = isinstance(outcome, HeartbeatTimedOut | CallbackOutcomeTimedOut)
        if stop is not None and (timed_out or (not outcome and not env.is_running())):
            stop()
        return outcome

    return evaluate


def wait_for_stop(env: Any, sync_resolver: Callable[[], Any],
                  callback: Callable[[], Any] = lambda: None) -> Any:
    """moto's ``_eval_sync`` loop (ask, else wait ``SYNC_RECHECK`` s, while the execution runs;
    a callback outcome, such as a heartbeat timeout, ends it too), except that the wait ends as
    soon as any ECS task stops (``ecs.stops``): the state learns of its task's end as Step
    Functions does from ECS's events, not at the next poll."""
    result = None
    while env.is_running():
        before = stops.seen()
        result = sync_resolver()
        if callback() or result:
            break
        stops.wait_after(before, SYNC_RECHECK)
    return callback() or result


def _token_listener(state: Any, env: Any, timeout_seconds: int | None, callback_endpoint: Any,
                    heartbeat_endpoint: Any) -> Callable[[], Any]:
    """What moto's ``_eval_sync`` runs beside its loop when the service supports task tokens
    (ECS does): a thread waiting for the token's outcome. Returns a reader of that outcome."""
    outcome: list[Any] = []
    if callback_endpoint is None:
        return lambda: None
    from moto.stepfunctions.parser.utils import TMP_THREADS

    def listen() -> None:
        outcome.append(state._eval_wait_for_task_token(
            env=env, timeout_seconds=timeout_seconds, callback_endpoint=callback_endpoint,
            heartbeat_endpoint=heartbeat_endpoint))

    thread = threading.Thread(target=listen, daemon=True,
                              name=f"WaitForTaskToken_SyncTask_{state.resource.resource_arn}")
    TMP_THREADS.append(thread)
    thread.start()
    return lambda: outcome[0] if outcome else None


def _stop_task(env: Any, region: str, credentials: Any, cluster: str, task: str) -> None:
    from moto.stepfunctions.parser.asl.utils.boto_client import boto_client_for

    execution = env.states.context_object.context_object_data["Execution"]["Id"]
    try:
        boto_client_for(region=region, service="ecs", state_credentials=credentials).stop_task(
            cluster=cluster, task=task, reason=_STOP_REASON.format(execution=execution))
        log.info("stopped ECS task %s: its Task state in %s ended without it", task, execution)
    except Exception:  # AWS "attempts" the stop; a failed attempt does not change the state
        log.exception("could not stop ECS task %s", task)


def eval_service_task(self: Any, env: Any, resource_runtime_part: Any,
                      normalised_parameters: dict, state_credentials: Any) -> None:
    """Replaces ``StateTaskServiceEcs._eval_service_task`` (same steps, plus the failures)."""
    from moto.stepfunctions.parser.asl.utils.boto_client import boto_client_for

    api_action = self._get_boto_service_action()
    ecs = boto_client_for(region=resource_runtime_part.region,
                          service=self._get_boto_service_name(),
                          state_credentials=state_credentials)
    response = getattr(ecs, api_action)(**normalised_parameters)
    response.pop("ResponseMetadata", None)
    if api_action != "run_task":
        env.stack.append(response)
        return
    self._normalise_response(response=response, service_action_name="run_task")
    if response.get("Failures"):
        if self.resource.condition is not None:  # .sync or .waitForTaskToken
            raise failure(self, env, "AmazonECS.Unknown", response)
        env.stack.append(response)  # request-response: the response, not a failure
        return
    # AWS outputs the description of the task, not the output of run_task.
    task = response["Tasks"][0]
    described = ecs.describe_tasks(cluster=task["ClusterArn"], tasks=[task["TaskArn"]])
    described.pop("ResponseMetadata", None)
    self._normalise_response(response=described, service_action_name="describe_tasks")
    env.stack.append(described)


def from_error(original: Callable[..., Any]) -> Callable[..., Any]:
    """Wraps ``StateTaskServiceEcs._from_error``: an ECS API error (RunTask refused, throttled)
    fails the state with ``ECS.AmazonECSException``, the name AWS reports for the optimised
    integration, with the SDK's error text as cause; moto reports ``States.Runtime``, which
    no Catch may handle."""

    def convert(self: Any, env: Any, ex: Exception) -> Any:
        from botocore.exceptions import ClientError

        if not isinstance(ex, ClientError):
            return original(self, env, ex)
        err, meta = ex.response.get("Error", {}), ex.response.get("ResponseMetadata", {})
        details = "; ".join([
            "Service: AmazonECS", f"Status Code: {meta.get('HTTPStatusCode')}",
            f"Error Code: {err.get('Code')}", f"Request ID: {meta.get('RequestId')}",
            "Proxy: null"])
        cause = f"{err.get('Message')} ({details})"
        return failure(self, env, "ECS.AmazonECSException", cause).failure_event

    return convert
