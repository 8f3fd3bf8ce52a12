"""AWS's rules between durations, checked on the spec before anything is built from it.

Each relation is one AWS rule or recommendation, cited. They hold on AWS because the spec
declares them; they hold in the local cloud because durations that bound work stay wall seconds
there and waiting passes in simulated time (the README's time table), so no dilation can turn a
valid spec into one that misbehaves. Each function returns the violations it finds, each naming
the entry, so ``load_topology`` can refuse the spec with a message a person can act on.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from tradai.topology.model import Topology

# https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-configure.html
VISIBILITY_PER_TIMEOUT = 6
# https://docs.aws.amazon.com/lambda/latest/dg/sqs-retries.html
MIN_RECEIVES_BEFORE_DLQ = 5
# https://docs.aws.amazon.com/autoscaling/ec2/APIReference/API_PutLifecycleHook.html
HOOK_HEARTBEAT_RANGE = (30, 7200)
SQS_MAX_RETENTION = 1209600


def queue_feeding_a_function(t: Topology) -> Iterator[str]:
    """"Set the source queue's visibility timeout to at least six times the configuration
    timeout on your function" (Lambda developer guide, services-sqs-configure)."""
    for fn, q in _sqs_consumers(t):
        if q.visibility_timeout < VISIBILITY_PER_TIMEOUT * fn.timeout:
            yield (f"queues[{q.name!r}]: visibility timeout {q.visibility_timeout} s is less than "
                   f"{VISIBILITY_PER_TIMEOUT} x the timeout of its consumer {fn.name!r} "
                   f"({fn.timeout} s)")


def receives_before_the_dead_letter_queue(t: Topology) -> Iterator[str]:
    """"Set the maxReceiveCount on the source queue's redrive policy to at least 5" for a queue
    feeding Lambda under load (Lambda developer guide, sqs-retries): an invocation that times
    out or is throttled spends a receive without the function deciding anything."""
    for fn, q in _sqs_consumers(t):
        if q.dlq and (q.max_receive_count or 0) < MIN_RECEIVES_BEFORE_DLQ:
            yield (f"queues[{q.name!r}]: max_receive_count {q.max_receive_count} is less than "
                   f"{MIN_RECEIVES_BEFORE_DLQ}, AWS's minimum for a queue feeding a function "
                   f"({fn.name!r})")


def _sqs_consumers(t: Topology) -> Iterator[tuple[Any, Any]]:
    """(function, its source queue) for every function an SQS queue of the spec triggers."""
    queues = {q.name: q for q in t.queues}
    for fn in t.lambdas:
        if fn.trigger.type == "sqs" and fn.trigger.queue in queues:
            yield fn, queues[fn.trigger.queue]


def dead_letter_queue_retention(t: Topology) -> Iterator[str]:
    """"Always set the retention period of a dead-letter queue to be longer than the retention
    period of the original queue" (SQS developer guide, sqs-dead-letter-queues): a message's
    expiry counts from its first enqueue."""
    queues = {q.name: q for q in t.queues}
    for q in t.queues:
        dlq = queues.get(q.dlq) if q.dlq else None
        if dlq is None:
            continue
        if dlq.retention_seconds <= q.retention_seconds and not (
                dlq.retention_seconds == q.retention_seconds == SQS_MAX_RETENTION):
            yield (f"queues[{q.name!r}]: its dead-letter queue {dlq.name!r} keeps messages "
                   f"{dlq.retention_seconds} s, not longer than the source's "
                   f"{q.retention_seconds} s")


def lifecycle_hook_outlasts_its_function(t: Topology) -> Iterator[str]:
    """A lifecycle hook's heartbeat timeout (30-7200 s, PutLifecycleHook) must leave its target
    function time to finish and call CompleteLifecycleAction, or the default result applies
    while the function still works."""
    hook = t.network.nat.lifecycle_hook
    low, high = HOOK_HEARTBEAT_RANGE
    if not low <= hook.heartbeat_timeout <= high:
        yield (f"network.nat.lifecycle_hook: heartbeat_timeout {hook.heartbeat_timeout} s is "
               f"outside AWS's {low}-{high} s")
    fn = next((f for f in t.lambdas if f.name == hook.target_lambda), None)
    if fn is not None and hook.heartbeat_timeout < fn.timeout:
        yield (f"network.nat.lifecycle_hook: heartbeat_timeout {hook.heartbeat_timeout} s is "
               f"shorter than the timeout of its function {fn.name!r} ({fn.timeout} s)")


def state_machine_timeouts(t: Topology) -> Iterator[str]:
    """Within a state machine: the execution's TimeoutSeconds is the spec's; no Task state may
    be allowed longer than the whole execution; a Lambda Task state's TimeoutSeconds leaves the
    function its own timeout; one state's Retry back-off fits in the execution
    (https://docs.aws.amazon.com/step-functions/latest/dg/state-task.html,
    https://docs.aws.amazon.com/step-functions/latest/dg/concepts-error-handling.html)."""
    from tradai.workflows.render import load_asl

    timeouts = {f.name: f.timeout for f in t.lambdas}
    for m in t.state_machines:
        try:
            asl = load_asl(m.asl)
        except (OSError, ValueError):
            continue  # a missing or broken file is reported by the reference checks
        where = f"state_machines[{m.name!r}]"
        declared = asl.get("TimeoutSeconds")
        if declared != m.timeout_seconds:
            yield (f"{where}: the ASL's TimeoutSeconds {declared} differs from the spec's "
                   f"timeout_seconds {m.timeout_seconds}")
        for name, state in _states(asl):
            limit = state.get("TimeoutSeconds")
            if isinstance(limit, int) and limit >= m.timeout_seconds:
                yield (f"{where}.{name}: TimeoutSeconds {limit} is not shorter than the "
                       f"execution's {m.timeout_seconds}")
            fn = _lambda_of(state)
            if fn in timeouts and isinstance(limit, int) and limit < timeouts[fn]:
                yield (f"{where}.{name}: TimeoutSeconds {limit} is shorter than the timeout of "
                       f"the function it invokes, {fn!r} ({timeouts[fn]} s)")
            for retry in state.get("Retry") or []:
                budget = retry_backoff_seconds(retry)
                if budget >= m.timeout_seconds:
                    yield (f"{where}.{name}: its Retry on {retry.get('ErrorEquals')} waits "
                           f"{budget:.0f} s in all, not less than the execution's "
                           f"{m.timeout_seconds}")


def retry_backoff_seconds(retry: dict[str, Any]) -> float:
    """Total waiting of a Retrier's attempts: IntervalSeconds (default 1) times BackoffRate
    (default 2.0) per attempt, each capped by MaxDelaySeconds, MaxAttempts (default 3) times."""
    interval = float(retry.get("IntervalSeconds", 1))
    rate = float(retry.get("BackoffRate", 2.0))
    cap = retry.get("MaxDelaySeconds")
    total = 0.0
    for attempt in range(int(retry.get("MaxAttempts", 3))):
        wait = interval * rate ** attempt
        total += min(wait, float(cap)) if cap is not None else wait
    return total


def _states(asl: dict[str, Any], prefix: str = "") -> Iterator[tuple[str, dict[str, Any]]]:
    """Every state, nested Parallel branches and Map iterators included."""
    for name, state in (asl.get("States") or {}).items():
        yield prefix + name, state
        for branch in state.get("Branches") or []:
            yield from _states(branch, f"{prefix}{name}.")
        for key in ("Iterator", "ItemProcessor"):
            if isinstance(state.get(key), dict):
                yield from _states(state[key], f"{prefix}{name}.")


def _lambda_of(state: dict[str, Any]) -> str | None:
    """The spec name of the function a ``lambda:invoke`` Task state calls (``${Lambda:x}``)."""
    if state.get("Type") != "Task" or "lambda:invoke" not in str(state.get("Resource", "")):
        return None
    target = str((state.get("Parameters") or {}).get("FunctionName", ""))
    if target.startswith("${Lambda:") and target.endswith("}"):
        return target[len("${Lambda:"):-1]
    return None


RELATIONS = (queue_feeding_a_function, receives_before_the_dead_letter_queue,
             dead_letter_queue_retention,
             lifecycle_hook_outlasts_its_function, state_machine_timeouts)


def duration_relations(t: Topology) -> list[str]:
    """Every violation of every relation (empty: the spec keeps AWS's rules)."""
    return [problem for relation in RELATIONS for problem in relation(t)]
