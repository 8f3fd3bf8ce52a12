"""Which durations of the local cloud follow the simulated clock, and which stay wall seconds.

Under a dilated clock (``--time-scale N``) a duration that is pure waiting (nothing runs while
it passes) is simulated time: a 2-minute replacement delay takes 6 wall seconds at 20x and a
drill's report states the 2 minutes AWS would show. A duration that bounds real work (a Lambda
handler, a container shutting down) stays in wall seconds, because the work does not get faster
when the clock is dilated: scaling it would time work out that AWS would let finish. AWS's
relations between the two kinds (a queue's visibility at least six times its consumer's
timeout, a lifecycle hook outlasting its function) are checked on the spec
(``tradai.topology.relations``) and hold in the emulator because each side keeps its own clock.

The README's table "Time: what is simulated and what is wall time" is this tuple, row for row
(``tests/unit/test_time_model.py`` compares them), and ``tradai-sim status --json`` shows it.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Literal

Clockname = Literal["simulated", "wall"]


@dataclass(frozen=True)
class Duration:
    what: str
    clock: Clockname
    why: str


TIME_MODEL: tuple[Duration, ...] = (
    # -- pure waiting: simulated ------------------------------------------------------------
    Duration("EventBridge rule and Scheduler schedules (rate, cron, at)", "simulated",
             "waiting for the next run"),
    Duration("EventBridge target retry back-off and maximum event age", "simulated",
             "waiting between delivery attempts"),
    Duration("Lambda asynchronous retry delays and maximum event age", "simulated",
             "waiting between attempts"),
    Duration("SQS visibility left after a function's invocation ended (failure, throttle)",
             "simulated", "waiting for the message to return; the event-source mapping counts "
             "the invocation's wall duration against the timeout, then lets the rest pass"),
    Duration("SQS FIFO deduplication interval (5 minutes)", "simulated",
             "remembering a sent id"),
    Duration("Step Functions Wait states and Retry intervals (IntervalSeconds, BackoffRate, "
             "MaxDelaySeconds)", "simulated", "waiting; the ASL is deployed as written"),
    Duration("DynamoDB TTL expiry and the deletion lag after it", "simulated",
             "items age and wait to be swept"),
    Duration("ECS service scheduler throttle delays, ALB deregistration delay, target "
             "health-check interval and thresholds", "simulated",
             "waiting on a task's health or drain"),
    Duration("Auto Scaling replacement delay, health-check interval", "simulated",
             "waiting for capacity"),
    Duration("CloudWatch alarm periods, FIS action durations and startAfter", "simulated",
             "observation windows and fault schedules"),
    Duration("Platform timers (heartbeats, staleness thresholds, orphan grace, the strategy "
             "container's exchange back-off)", "simulated", "read through tradai.clock"),
    Duration("A trading session's own clock (Freqtrade's candle freshness, trade times, loop "
             "cadence)", "simulated", "libfaketime makes time() and datetime.now() in strategy "
             "tasks read the stack's clock; their monotonic clock, sleeps and socket timeouts "
             "stay wall"),
    # -- bounds on real work: wall ----------------------------------------------------------
    Duration("Lambda function timeout", "wall",
             "bounds the handler's work, which does not speed up"),
    Duration("SQS visibility timeout while its consumer works (the queue's attribute, as "
             "declared)", "wall", "a message is never redelivered while its function still "
             "runs: visibility >= 6 x function timeout holds in the clock the work runs in"),
    Duration("Step Functions Task TimeoutSeconds / HeartbeatSeconds, execution TimeoutSeconds",
             "wall", "bound the work of a Lambda invocation or an ECS task"),
    Duration("ECS container stopTimeout (SIGTERM to SIGKILL)", "wall",
             "bounds a container's shutdown work"),
    Duration("Auto Scaling lifecycle hook heartbeat timeout", "wall",
             "bounds the hook's action (its Lambda, timeout in wall seconds)"),
    Duration("ALB health-check timeout", "wall",
             "bounds a target's answer: a target slowed by a loaded machine is not failed "
             "for taking a few wall seconds"),
    Duration("ECS service and Auto Scaling health-check grace periods", "wall",
             "cover a task's or instance's start-up work (MLflow takes 10-40 s to start)"),
)


def time_model() -> list[dict[str, Any]]:
    """The table as ``status --json`` shows it."""
    return [asdict(d) for d in TIME_MODEL]
