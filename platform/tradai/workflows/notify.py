"""NotifySuccess: publish a job's outcome to the notifications topic (SNS).

The message is for people and subscribers: status, strategy, headline metrics, the MLflow
run. Nothing secret is in the job item, and nothing beyond these fields is sent.
"""

from __future__ import annotations

import json
from typing import Any

HEADLINE = ("total_trades", "profit_total", "max_drawdown", "win_rate")


def message(job_id: str, status: str, item: dict[str, Any] | None) -> dict[str, Any]:
    item = item or {}
    result = item.get("result") if isinstance(item.get("result"), dict) else {}
    return {"job_id": job_id, "status": status, "kind": item.get("kind", "backtest"),
            "owner": item.get("owner"), "strategy": item.get("strategy"),
            "version": item.get("version"),
            "metrics": {k: result.get(k) for k in HEADLINE if k in result},
            "mlflow_url": item.get("mlflow_url"), "error": item.get("error")}


def publish(sns: Any, topic_arn: str, body: dict[str, Any]) -> str:
    kind = "Retraining" if body.get("kind") == "retraining" else "Backtest"
    subject = f"{kind} {body['status'].lower()}: {body.get('strategy') or body['job_id']}"
    resp = sns.publish(TopicArn=topic_arn, Subject=subject[:100],
                       Message=json.dumps(body, default=str),
                       MessageAttributes={"status": {"DataType": "String",
                                                     "StringValue": body["status"]}})
    return str(resp["MessageId"])
