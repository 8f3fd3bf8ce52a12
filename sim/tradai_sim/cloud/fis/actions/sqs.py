"""``tradai:sqs:poison-messages``: malformed messages sent to the targeted queue (a FIFO queue
gets a message group and deduplication ids of the experiment's own)."""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from tradai_sim.cloud.fis.actions.base import ActionFailed, Injection


class PoisonMessages(Injection):
    def start(self) -> None:
        sqs = self.env.ctx.client("sqs")
        count = int(self.env.param("count") or 5)
        body = self.env.param("body") or ""
        self.sent: dict[str, list[str]] = {}
        for queue in self.env.resources("Queues"):
            url = str(queue.detail["QueueUrl"])
            ids = []
            for i in range(count):
                kwargs: dict[str, Any] = {"QueueUrl": url, "MessageBody": body}
                if queue.id.endswith(".fifo"):
                    kwargs["MessageGroupId"] = f"fis-{self.env.experiment_id}"
                    kwargs["MessageDeduplicationId"] = (
                        f"{self.env.experiment_id}-{self.env.action_name}-{i}")
                try:
                    ids.append(sqs.send_message(**kwargs)["MessageId"])
                except ClientError as exc:
                    raise ActionFailed(f"SendMessage to {queue.id} failed: {exc}") from exc
            self.sent[queue.id] = ids
        total = sum(len(v) for v in self.sent.values())
        self.notes.append(f"{total} messages sent cannot be withdrawn")

    def detail(self) -> dict[str, Any]:
        return {"sent": self.sent}
