"""DLQ replay against SQS (and CloudWatch for the age of the oldest message).

A queue is a dead-letter queue when some queue's redrive policy names it
(ListDeadLetterSourceQueues). Replaying starts an SQS message move task without a
destination, so each message returns to the queue it came from, optionally at a fixed rate
(StartMessageMoveTask: 1 to 500 messages per second); SQS allows one active task per queue.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from botocore.exceptions import ClientError

from tradai.clock import Clock
from tradai.redrive.deployment import QueueRef
from tradai.redrive.errors import RedriveError

ACTIVE = ("RUNNING", "CANCELLING")
AGE_LOOKBACK = timedelta(minutes=15)  # AWS/SQS metrics arrive every minute while active
_MISSING = ("AWS.SimpleQueueService.NonExistentQueue", "QueueDoesNotExist")


@dataclass(frozen=True)
class MoveTask:
    status: str
    moved: int
    to_move: int | None
    started: float | None  # epoch seconds
    handle: str | None = None
    destination: str | None = None
    rate: int | None = None
    failure: str | None = None

    @classmethod
    def of(cls, entry: dict[str, Any]) -> MoveTask:
        started = entry.get("StartedTimestamp")
        return cls(status=str(entry.get("Status")),
                   moved=int(entry.get("ApproximateNumberOfMessagesMoved") or 0),
                   to_move=entry.get("ApproximateNumberOfMessagesToMove"),
                   started=started / 1000 if started is not None else None,
                   handle=entry.get("TaskHandle"), destination=entry.get("DestinationArn"),
                   rate=entry.get("MaxNumberOfMessagesPerSecond"),
                   failure=entry.get("FailureReason"))

    @property
    def active(self) -> bool:
        return self.status in ACTIVE


@dataclass(frozen=True)
class QueueState:
    name: str
    url: str
    arn: str
    waiting: int  # visible: what a replay would move now
    in_flight: int
    sources: tuple[str, ...] = ()  # names of the queues whose redrive policy names it
    tasks: tuple[MoveTask, ...] = field(default=())  # newest first

    @property
    def active_task(self) -> MoveTask | None:
        return next((t for t in self.tasks if t.active), None)


class Redrive:
    def __init__(self, sqs: Any, cloudwatch: Any, clock: Clock) -> None:
        self.sqs = sqs
        self.cloudwatch = cloudwatch
        self.clock = clock

    def url(self, ref: QueueRef) -> str:
        if ref.url:
            return ref.url
        kwargs = {"QueueName": ref.name}
        if ref.account:
            kwargs["QueueOwnerAWSAccountId"] = ref.account
        try:
            return str(self.sqs.get_queue_url(**kwargs)["QueueUrl"])
        except ClientError as exc:
            if _code(exc) in _MISSING:
                raise RedriveError(f"queue {ref.name} does not exist") from None
            raise

    def state(self, ref: QueueRef, tasks: int = 10) -> QueueState:
        url = self.url(ref)
        try:
            attrs = self.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=[
                "QueueArn", "ApproximateNumberOfMessages",
                "ApproximateNumberOfMessagesNotVisible"])["Attributes"]
            sources = self.sqs.list_dead_letter_source_queues(QueueUrl=url).get("queueUrls", [])
        except ClientError as exc:
            if _code(exc) in _MISSING:
                raise RedriveError(f"queue {ref.name} does not exist") from None
            raise
        arn = attrs["QueueArn"]
        names = tuple(sorted(u.rstrip("/").rsplit("/", 1)[-1] for u in sources))
        listed = self.sqs.list_message_move_tasks(SourceArn=arn, MaxResults=tasks)[
            "Results"] if names else []
        return QueueState(ref.name, url, arn, int(attrs.get("ApproximateNumberOfMessages", 0)),
                          int(attrs.get("ApproximateNumberOfMessagesNotVisible", 0)), names,
                          tuple(MoveTask.of(e) for e in listed))

    def dead_letter_queue(self, ref: QueueRef) -> QueueState:
        found = self.state(ref)
        if not found.sources:
            raise RedriveError(f"{ref.name} is not a dead-letter queue: no queue's redrive "
                               f"policy names it")
        return found

    def oldest_age(self, name: str) -> float | None:
        """Seconds, from the newest AWS/SQS ApproximateAgeOfOldestMessage datapoint."""
        now = datetime.fromtimestamp(self.clock.now(), tz=UTC)
        points = self.cloudwatch.get_metric_statistics(
            Namespace="AWS/SQS", MetricName="ApproximateAgeOfOldestMessage",
            Dimensions=[{"Name": "QueueName", "Value": name}], StartTime=now - AGE_LOOKBACK,
            EndTime=now + timedelta(minutes=1), Period=60, Statistics=["Maximum"],
        ).get("Datapoints", [])
        if not points:
            return None
        return float(max(points, key=lambda p: p["Timestamp"])["Maximum"])

    def replay(self, dlq: QueueState, rate: int | None = None) -> str:
        """Start moving the DLQ's messages back to their source queues; the task handle."""
        running = dlq.active_task
        if running is not None:
            raise RedriveError(f"a replay of {dlq.name} is already {running.status} "
                               f"({progress(running)}); wait for it or cancel it")
        if dlq.waiting == 0:
            extra = f" ({dlq.in_flight} in flight)" if dlq.in_flight else ""
            raise RedriveError(f"{dlq.name} is empty: nothing to replay{extra}")
        kwargs: dict[str, Any] = {"SourceArn": dlq.arn}
        if rate is not None:
            kwargs["MaxNumberOfMessagesPerSecond"] = rate
        try:
            return str(self.sqs.start_message_move_task(**kwargs)["TaskHandle"])
        except ClientError as exc:
            raise RedriveError(f"SQS refused the replay of {dlq.name}: {_message(exc)}"
                               ) from None

    def cancel(self, dlq: QueueState) -> int:
        """Cancel the running replay; the number of messages moved before it stopped."""
        running = next((t for t in dlq.tasks if t.status == "RUNNING" and t.handle), None)
        if running is None:
            raise RedriveError(f"no replay of {dlq.name} is running")
        try:
            return int(self.sqs.cancel_message_move_task(TaskHandle=running.handle)[
                "ApproximateNumberOfMessagesMoved"])
        except ClientError as exc:
            raise RedriveError(f"SQS refused to cancel the replay of {dlq.name}: "
                               f"{_message(exc)}") from None

    def task(self, dlq: QueueState, handle: str) -> MoveTask | None:
        """Our task among the source's recent ones: by its handle while it runs (SQS lists
        handles only then), afterwards as the oldest task that ``dlq`` did not know yet."""
        listed = [MoveTask.of(e) for e in self.sqs.list_message_move_tasks(
            SourceArn=dlq.arn, MaxResults=10)["Results"]]
        mine = next((t for t in listed if t.handle == handle), None)
        if mine is not None:
            return mine
        known = {t.started for t in dlq.tasks}
        new = [t for t in listed if t.started not in known]
        return new[-1] if new else None


def progress(task: MoveTask) -> str:
    total = "?" if task.to_move is None else str(task.to_move)
    return f"{task.moved} of {total} moved"


def _code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def _message(exc: ClientError) -> str:
    err = exc.response.get("Error", {})
    return f"{err.get('Code', 'error')}: {err.get('Message', exc)}"
