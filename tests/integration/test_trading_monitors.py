"""The monitors as deployed in the running cloud (scale 20), run by their own schedules:
``trading-heartbeat-check`` (rate 1 minute) and ``health-check`` (rate 2 minutes).

- A session writing heartbeats every 30 simulated seconds is never alerted; once they stop,
  exactly one alert comes after more than 3 and at most 3 plus one check period (and the
  invocation's latency) simulated minutes; a new heartbeat brings exactly one recovery notice.
- A data-collection task frozen (the FIS ``tradai:process:freeze`` harness action: SIGSTOP,
  then SIGCONT) fails its health probe through service discovery: one UNHEALTHY alert, then one
  RECOVERED notice once it answers again.

Alerts are read from the SNS log the local cloud keeps (what ``tradai-sim alerts`` shows).
AWS behaviour: scheduled rules invoke their Lambda target asynchronously, and a failed
asynchronous invocation is retried twice
(https://docs.aws.amazon.com/lambda/latest/dg/invocation-async-error-handling.html), which is
why one alert per incident rests on conditional writes
(https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/Expressions.ConditionExpressions.html).
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import pytest
import requests

from tests.integration.cloud import RunningCloud, wait_for
from tests.integration.fis_helpers import render_context, start, template_body, wait_until
from tests.integration.stack_clock import stack_clock
from tradai.clock import Clock
from tradai.trading.records import STALE_AFTER_SECONDS, display_status
from tradai_sim.stack.state import StackRecord

pytestmark = pytest.mark.integration

CHECK_PERIOD = 60.0  # trading-heartbeat-check: rate(1 minute)
HEALTH_PERIOD = 120.0  # health-check: rate(2 minutes)
# An invocation's own latency (worker hand-off, cold start, a busy 2-core machine), simulated
# seconds at scale 20: 2 wall seconds.
LATENCY = 40.0


def published(cloud: RunningCloud, since: float) -> list[dict[str, Any]]:
    answer = requests.get(f"{cloud.endpoint}/_sim/sns/published",
                          params={"topic": "alerts", "since": repr(since)}, timeout=10)
    answer.raise_for_status()
    return list(answer.json()["messages"])


def about(cloud: RunningCloud, since: float, key: str, value: str) -> list[dict[str, Any]]:
    """Alerts since ``since`` whose JSON body has ``key`` == ``value``, with the body parsed."""
    out = []
    for m in published(cloud, since):
        try:
            body = json.loads(m["message"])
        except ValueError:
            continue  # alarm notifications and other publishers
        if isinstance(body, dict) and body.get(key) == value:
            out.append({**m, "body": body})
    return out


class Session:
    """A trading session's item as the API writes it, and heartbeats as the container does."""

    def __init__(self, cloud: RunningCloud, clock: Clock) -> None:
        self.ddb = cloud.client("dynamodb")
        self.table = cloud.name("trading-heartbeats")
        self.clock = clock
        self.sid = f"itest-{uuid.uuid4().hex[:8]}-dry-run"
        now = clock.now()
        self.ddb.put_item(TableName=self.table, Item={
            "strategy_id": {"S": self.sid}, "owner": {"S": "itest"},
            "strategy": {"S": "ItestStrategy"}, "ref": {"S": "champion"},
            "mode": {"S": "dry-run"}, "status": {"S": "STARTING"},
            "created_at": {"N": repr(now)}, "ttl": {"N": str(int(now + 86400))}})

    def heartbeat(self) -> float:
        now = self.clock.now()
        self.ddb.update_item(TableName=self.table, Key={"strategy_id": {"S": self.sid}},
                             UpdateExpression="SET last_heartbeat = :t, version = :v "
                                              "ADD heartbeats :one",
                             ExpressionAttributeValues={":t": {"N": repr(now)},
                                                        ":v": {"N": "1"}, ":one": {"N": "1"}})
        return now

    def beat_for(self, sim_seconds: float) -> float:
        """Heartbeats every 30 simulated seconds for ``sim_seconds``; the last one's time."""
        end = self.clock.now() + sim_seconds
        last = self.heartbeat()
        while self.clock.now() < end:
            self.clock.sleep(30)
            last = self.heartbeat()
        return last

    def item(self) -> dict[str, Any]:
        raw = self.ddb.get_item(TableName=self.table, Key={"strategy_id": {"S": self.sid}},
                                ConsistentRead=True)["Item"]
        return {k: float(v["N"]) if "N" in v else v.get("S") for k, v in raw.items()}

    def stop(self) -> None:
        self.ddb.update_item(TableName=self.table, Key={"strategy_id": {"S": self.sid}},
                             UpdateExpression="SET #s = :s",
                             ExpressionAttributeNames={"#s": "status"},
                             ExpressionAttributeValues={":s": {"S": "STOPPED"}})


def test_stale_heartbeat_alerts_once_and_recovery_notice_follows(
        cloud: RunningCloud, tmp_path: Path) -> None:
    clock, _ = stack_clock(cloud)
    began = clock.now()
    session = Session(cloud, clock)
    try:
        # Fresh for 5 simulated minutes (longer than the threshold): nothing to say.
        last = session.beat_for(300)
        assert about(cloud, began, "session", session.sid) == []
        assert display_status(session.item()) == "RUNNING"

        # Heartbeats stop: one alert, after > 3 and <= 3 + one period (+ latency) minutes.
        stale = wait_for(lambda: about(cloud, began, "session", session.sid),
                         timeout=clock.to_wall(STALE_AFTER_SECONDS + 2 * CHECK_PERIOD + 120))
        [alert] = stale
        delay = alert["simulated_time"] - last
        assert STALE_AFTER_SECONDS < delay <= STALE_AFTER_SECONDS + CHECK_PERIOD + LATENCY, delay
        assert alert["subject"].startswith(f"STALE trading session {session.sid}")
        assert alert["body"]["alert"] == "trading-session-stale"
        assert alert["body"]["strategy"] == "ItestStrategy" and alert["body"]["version"] == 1
        assert alert["body"]["heartbeat_age_seconds"] > STALE_AFTER_SECONDS
        item = session.item()
        assert display_status(item) == "STALE" and item["incidents"] == 1
        print(f"\nstale alert {delay:.0f} simulated s after the last heartbeat")

        # Three more checks of the same incident: still one alert.
        clock.sleep(3 * CHECK_PERIOD + LATENCY)
        assert len(about(cloud, began, "session", session.sid)) == 1

        # The container is back: one recovery notice within one period.
        back = session.heartbeat()
        session.beat_for(0)
        recovered = wait_for(lambda: [m for m in about(cloud, began, "session", session.sid)
                                      if m["body"]["alert"] == "trading-session-recovered"],
                             timeout=clock.to_wall(2 * CHECK_PERIOD + 120))
        assert len(recovered) == 1
        assert recovered[0]["simulated_time"] - back <= CHECK_PERIOD + LATENCY
        assert recovered[0]["subject"].startswith(f"RECOVERED trading session {session.sid}")
        item = session.item()
        assert "stale_since" not in item and item["recovered_at"] >= back
        assert display_status(item) == "RUNNING"
        print(f"recovery notice {recovered[0]['simulated_time'] - back:.0f} simulated s after "
              f"the heartbeat returned")

        # ... and ``tradai-sim alerts`` shows both.
        assert cloud.proc is not None
        StackRecord(cloud.proc.pid, int(urlparse(cloud.endpoint).port or 0), cloud.endpoint,
                    cloud.time_scale, time.time()).write(tmp_path)
        shown = subprocess.run([sys.executable, "-m", "tradai_sim.cli", "alerts", "--topic",
                                "alerts", "--state-dir", str(tmp_path)],
                               capture_output=True, text=True, timeout=60)
        assert shown.returncode == 0, shown.stderr
        assert f"STALE trading session {session.sid}" in shown.stdout
        assert f"RECOVERED trading session {session.sid}" in shown.stdout

        # Keep beating through two more checks: nothing more is said.
        session.beat_for(2 * CHECK_PERIOD + LATENCY)
        assert [m["body"]["alert"] for m in about(cloud, began, "session", session.sid)] == [
            "trading-session-stale", "trading-session-recovered"]
    finally:
        session.stop()


def test_a_session_stopped_before_its_heartbeat_went_stale_is_not_alerted(
        cloud: RunningCloud) -> None:
    clock, _ = stack_clock(cloud)
    began = clock.now()
    session = Session(cloud, clock)
    session.heartbeat()
    session.stop()
    clock.sleep(STALE_AFTER_SECONDS + 2 * CHECK_PERIOD + LATENCY)
    assert about(cloud, began, "session", session.sid) == []
    assert "stale_since" not in session.item()


def _health(cloud: RunningCloud, service: str) -> dict[str, Any] | None:
    item = cloud.client("dynamodb").get_item(TableName=cloud.name("service-health"),
                                             Key={"service": {"S": service}},
                                             ConsistentRead=True).get("Item")
    return {k: v.get("S", v.get("N")) for k, v in item.items()} if item else None


def test_a_frozen_service_task_alerts_once_and_recovers_once(cloud: RunningCloud) -> None:
    clock, _ = stack_clock(cloud)
    service = "data-collection"
    # health-check has run and found the service healthy (it may still be starting)
    wait_for(lambda: (_health(cloud, service) or {}).get("status") == "HEALTHY",
             timeout=clock.to_wall(6 * HEALTH_PERIOD))
    began = clock.now()
    freeze_minutes = 6  # three health-check periods
    body = template_body(
        cloud,
        actions={"Freeze": {"actionId": "tradai:process:freeze",
                            "parameters": {"duration": f"PT{freeze_minutes}M"},
                            "targets": {"Tasks": "Task"}}},
        targets={"Task": {"resourceType": "aws:ecs:task",
                          "parameters": {"cluster": cloud.name("strategies"),
                                         "service": cloud.name(service)},
                          "selectionMode": "COUNT(1)"}})
    assert render_context(cloud).project == "tradai"
    experiment = start(cloud, body)
    try:
        wait_until(cloud, experiment, "running", action="Freeze",
                   timeout=clock.to_wall(60))
        failed = wait_for(lambda: about(cloud, began, "service", service),
                          timeout=clock.to_wall(freeze_minutes * 60))
        [alert] = failed
        assert alert["body"]["alert"] == "service-unhealthy"
        assert alert["subject"].startswith(f"UNHEALTHY service {service}:")
        assert alert["simulated_time"] - began <= 2 * HEALTH_PERIOD + LATENCY
        assert _health(cloud, service)["status"] == "UNHEALTHY"  # type: ignore[index]
        wait_until(cloud, experiment, "completed", timeout=clock.to_wall(freeze_minutes * 60 + 120))
        ended = clock.now()
        recovered = wait_for(lambda: [m for m in about(cloud, began, "service", service)
                                      if m["body"]["alert"] == "service-recovered"],
                             timeout=clock.to_wall(4 * HEALTH_PERIOD))
        assert len(recovered) == 1
        assert recovered[0]["subject"].startswith(f"RECOVERED service {service}:")
        print(f"\nunhealthy alert {alert['simulated_time'] - began:.0f} simulated s after the "
              f"freeze; recovery {recovered[0]['simulated_time'] - ended:.0f} s after it ended")
        # one more check: nothing new
        clock.sleep(HEALTH_PERIOD + LATENCY)
        assert [m["body"]["alert"] for m in about(cloud, began, "service", service)] == [
            "service-unhealthy", "service-recovered"]
    finally:
        if cloud.client("fis").get_experiment(id=experiment)["experiment"]["state"][
                "status"] not in ("completed", "stopped", "failed"):
            cloud.client("fis").stop_experiment(id=experiment)
