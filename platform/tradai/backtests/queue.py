"""The backtest FIFO queue, as the submission sees it."""

from __future__ import annotations

import json
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from tradai.backtests.errors import DependencyUnavailable


class BacktestQueue:
    def __init__(self, sqs: Any, queue_url: str) -> None:
        self.sqs = sqs
        self.url = queue_url

    def send(self, body: dict[str, Any], group_id: str, dedup_id: str) -> str:
        try:
            resp = self.sqs.send_message(
                QueueUrl=self.url, MessageBody=json.dumps(body, sort_keys=True),
                MessageGroupId=group_id, MessageDeduplicationId=dedup_id)
        except (ClientError, BotoCoreError) as exc:
            raise DependencyUnavailable("backtest queue unavailable", exc) from exc
        return str(resp["MessageId"])
