"""The backtest FIFO queue, as the submission sees it."""

from __future__ import annotations

import json
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from tradai.backtests.errors import DependencyUnavailable


def message_of(ticket: dict[str, Any]) -> dict[str, Any]:
    """A recorded ticket's queue message (the backend's send, and a re-send of it)."""
    return {"job_id": ticket["job_id"], "ticket_id": ticket["job_id"], "owner": ticket["owner"],
            "submitted_at": ticket["created_at"], **ticket["job"]}


class BacktestQueue:
    def __init__(self, sqs: Any, queue_url: str) -> None:
        self.sqs = sqs
        self.url = queue_url

    def send_ticket(self, ticket: dict[str, Any]) -> str:
        """Send a recorded ticket's message: its owner's group, its deduplication id."""
        return self.send(message_of(ticket), group_id=ticket["owner"],
                         dedup_id=ticket["dedup_id"])

    def send(self, body: dict[str, Any], group_id: str, dedup_id: str) -> str:
        try:
            resp = self.sqs.send_message(
                QueueUrl=self.url, MessageBody=json.dumps(body, sort_keys=True),
                MessageGroupId=group_id, MessageDeduplicationId=dedup_id)
        except (ClientError, BotoCoreError) as exc:
            raise DependencyUnavailable("backtest queue unavailable", exc) from exc
        return str(resp["MessageId"])
