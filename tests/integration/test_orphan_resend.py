"""Nothing accepted is lost when the backend stops between its put and its send: the stack's
orphan-scanner finds the ticket still QUEUED, sends its message (its role may: the spec's
``queues_send``), and the job ends with a reason the owner can read.

The ticket is written as the backend records it, with no message; its strategy does not exist,
so the workflow's validation fails it: FAILED, "strategy 'X' not found".
"""

from __future__ import annotations

import json

from tests.integration.cloud import RunningCloud, wait_for
from tests.integration.stack_clock import stack_clock
from tradai.backtests.store import to_item


def test_a_ticket_left_unsent_is_sent_by_the_orphan_scanner_and_ends_with_a_reason(
        cloud: RunningCloud) -> None:
    clock, _ = stack_clock(cloud)
    ddb = cloud.client("dynamodb")
    table = cloud.name("workflow-state")
    job_id = "orphan-resend-1"
    now = clock.now()
    ddb.put_item(TableName=table, Item=to_item({
        "job_id": job_id, "owner": "orphan-owner", "created_at": clock.now_datetime().isoformat(),
        "status": "QUEUED", "submitted_epoch": int(now - 600), "dedup_id": f"{job_id}-dedup",
        "kind": "backtest", "ttl": int(now) + 86400,
        "job": {"strategy": "NoSuchStrategyForResend", "version": "1", "pairs": ["BTC/USDT"],
                "timeframe": "5m", "timerange": "20251001-20251101", "mode": "backtest"}}))

    resp = cloud.client("lambda").invoke(FunctionName=cloud.name("orphan-scanner"),
                                         Payload=b"{}")
    report = json.loads(resp["Payload"].read())
    assert resp.get("FunctionError") is None, report
    assert job_id in report["resent_jobs"], report

    def ended() -> dict | None:
        item = ddb.get_item(TableName=table, Key={"job_id": {"S": job_id}})["Item"]
        return item if item["status"]["S"] in ("FAILED", "COMPLETED") else None

    item = wait_for(ended, timeout=90.0, interval=0.5)
    assert item["status"]["S"] == "FAILED"
    assert "NoSuchStrategyForResend' not found" in item["error"]["S"], item["error"]
    again = json.loads(cloud.client("lambda").invoke(
        FunctionName=cloud.name("orphan-scanner"), Payload=b"{}")["Payload"].read())
    assert job_id not in again["resent_jobs"]
