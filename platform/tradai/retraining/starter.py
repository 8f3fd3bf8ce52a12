"""``sqs-consumer``'s work: start the Retraining workflow for a queued run, at most once.

The same three guards as the backtest consumer (``tradai.workflows.orchestration``): the
idempotency record (Powertools, keyed by the run id, in the handler), the run's state (a
terminal run is never restarted) and the execution name, which is the run id: Step Functions
starts no second execution of one name: the same name and input answer with the running
execution, a closed one's name is refused with ExecutionAlreadyExists
(https://docs.aws.amazon.com/botocore/latest/reference/services/stepfunctions/client/exceptions/ExecutionAlreadyExists.html),
which counts as started. So a message delivered twice starts one run.

The queue record's handling (redelivery, the last receive) reuses the backtest consumer's
record type; there is no capacity to wait for here (one run per strategy at a time: the FIFO
group is the strategy), so any failure is retried by redelivery and the last one marks the run
FAILED before its message goes to the DLQ.
"""

from __future__ import annotations

import json
import logging
import re
from typing import Any

from botocore.exceptions import ClientError

from tradai.clock import Clock
from tradai.retraining.runs import FAILED, QUEUED, TERMINAL, RunStore, iso, run_id_for
from tradai.workflows.consumer import QueueRecord, _max_receive
from tradai.workflows.orchestration import InvalidMessage, execution_arn

log = logging.getLogger(__name__)
_ISO = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$")
INPUT_FIELDS = ("run_id", "model_name", "requested_at", "trigger", "margin")


def parse(message: Any) -> dict[str, Any]:
    if not isinstance(message, dict):
        raise InvalidMessage("message body is not a JSON object")
    strategy, requested_at = message.get("model_name"), message.get("requested_at")
    if not isinstance(strategy, str) or not strategy:
        raise InvalidMessage("message has no model_name")
    if not isinstance(requested_at, str) or not _ISO.match(requested_at):
        raise InvalidMessage(f"message has no requested_at (ISO 8601 UTC): {requested_at!r}")
    run_id = run_id_for(strategy, requested_at)
    if message.get("run_id") not in (None, run_id):
        raise InvalidMessage(f"run_id {message.get('run_id')!r} does not match the strategy "
                             f"and instant (expected {run_id})")
    return {k: v for k, v in {**message, "run_id": run_id}.items()
            if k in INPUT_FIELDS and v is not None}


class RetrainingStarter:
    def __init__(self, sfn: Any, runs: RunStore, state_machine_arn: str, clock: Clock) -> None:
        self.sfn, self.runs, self.arn, self.clock = sfn, runs, state_machine_arn, clock

    def start(self, message: dict[str, Any]) -> dict[str, Any]:
        data = parse(message)
        run_id, strategy, at = data["run_id"], data["model_name"], data["requested_at"]
        arn = execution_arn(self.arn, run_id)
        run = self.runs.get(strategy, at)
        if run is None:  # sent straight to the queue: record it as the scheduler would
            self.runs.create({**data, "state": QUEUED, "trigger": data.get("trigger", "queue"),
                              "created_at": iso(self.clock.now()), "enqueued": True},
                             self.clock.now())
            run = self.runs.get(strategy, at) or {}
        if run.get("state") in TERMINAL:
            return {"run_id": run_id, "outcome": "already-finished", "state": run["state"]}
        payload = {**data, "job_id": run_id, "trigger": run.get("trigger") or "queue"}
        outcome = "started"
        try:
            self.sfn.start_execution(stateMachineArn=self.arn, name=run_id,
                                     input=json.dumps(payload))
        except ClientError as exc:
            if exc.response["Error"]["Code"] != "ExecutionAlreadyExists":
                raise
            outcome = "already-started"
        self.runs.update(strategy, at, self.clock.now(), execution_arn=arn)
        return {"run_id": run_id, "outcome": outcome, "execution_arn": arn}


class RetrainingConsumer:
    def __init__(self, sqs: Any, runs: RunStore, start: Any, clock: Clock) -> None:
        self.sqs, self.runs, self.start, self.clock = sqs, runs, start, clock

    def handle(self, record: QueueRecord) -> dict[str, Any]:
        try:
            message = json.loads(record.body)
            return dict(self.start(message=message))
        except Exception as exc:
            if record.receive_count >= _max_receive(self.sqs, record.queue_arn):
                self._give_up(record, exc)
            raise

    def _give_up(self, record: QueueRecord, exc: Exception) -> None:
        """The last receive failed: the run ends FAILED with the reason, so nothing stays
        QUEUED while its message sits in the DLQ."""
        try:
            data = parse(json.loads(record.body))
        except Exception:
            log.error("undeliverable retraining message %s goes to the DLQ: %s",
                      record.message_id, exc)
            return
        reason = (f"could not be started after {record.receive_count} attempts: "
                  f"{type(exc).__name__}: {exc}")
        try:
            self.runs.update(data["model_name"], data["requested_at"], self.clock.now(),
                             state=FAILED, reason=reason)
        except Exception:
            log.exception("could not mark retraining run %s FAILED", data["run_id"])
