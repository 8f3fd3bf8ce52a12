"""EventBridge schedules fire their Lambda targets on the simulated clock."""

from __future__ import annotations

import itertools
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from tests.integration.cloud import RunningCloud, deploy_lambda, wait_for
from tradai.clock import Clock

RECORDER = """
import json, os, time
def handler(event, context):
    with open(os.environ["OUT"], "a") as f:
        f.write(json.dumps({"wall": time.time(), "event": event}) + "\\n")
    return "ok"
"""


def _lines(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    return [json.loads(x) for x in path.read_text().splitlines() if x.strip()]


def _rule_status(cloud: RunningCloud, name: str) -> dict[str, Any] | None:
    return cloud.status()["parts"]["scheduler"]["rules"].get(name)


def test_rate_rule_fires_at_simulated_cadence_and_stops_when_disabled(
        cloud: RunningCloud, tmp_path: Path) -> None:
    out = tmp_path / "ticks.jsonl"
    arn = deploy_lambda(cloud, "t-sched-rate", RECORDER, environment={"OUT": str(out)})
    # Warm the function so a cold start does not skew the first interval.
    cloud.client("lambda").invoke(FunctionName="t-sched-rate", Payload=b'{"warm": true}')
    out.unlink()
    events = cloud.client("events")
    rule_arn = events.put_rule(Name="t-rate", ScheduleExpression="rate(1 minute)",
                               State="ENABLED")["RuleArn"]
    events.put_targets(Rule="t-rate", Targets=[{"Id": "fn", "Arn": arn}])

    lines = wait_for(lambda: len(_lines(out)) >= 3 and _lines(out), timeout=30)
    # The events carry their scheduled (simulated) times: exactly one period apart.
    ticks = [datetime.fromisoformat(x["event"]["time"].replace("Z", "+00:00")).timestamp()
             for x in lines[:3]]
    assert [b - a for a, b in itertools.pairwise(ticks)] == [60.0, 60.0], ticks
    # And each is delivered when the stack's clock reaches its scheduled time: never before
    # it, and within a period after it (the delay is the invoke's wall time x the time scale:
    # 33 simulated s was seen at load 30; a scheduler on the wall clock would be 20 periods
    # late).
    clock = _clock(cloud)
    delays = [clock.origin + (x["wall"] - clock.origin) * clock.scale - t
              for x, t in zip(lines[:3], ticks, strict=True)]
    assert all(0 <= d < 60 for d in delays), delays

    event = lines[0]["event"]
    assert event["detail-type"] == "Scheduled Event"
    assert event["source"] == "aws.events"
    assert event["resources"] == [rule_arn]
    assert event["detail"] == {}
    assert event["time"].endswith("Z") and event["region"] == cloud.region
    assert set(event) >= {"version", "id", "account"}
    status = _rule_status(cloud, "t-rate")
    assert status and status["count"] >= 3 and status["next_fire"] > status["last_fire"]

    events.disable_rule(Name="t-rate")
    wait_for(lambda: (_rule_status(cloud, "t-rate") or {}).get("state") == "DISABLED")
    fired = len(_lines(out))
    # One and a half would-be periods of simulated time pass without another firing.
    until = cloud.status()["simulated_now"] + 90
    wait_for(lambda: cloud.status()["simulated_now"] > until, timeout=15)
    assert len(_lines(out)) == fired
    assert _rule_status(cloud, "t-rate")["next_fire"] is None


def test_input_overrides_the_scheduled_event(cloud: RunningCloud, tmp_path: Path) -> None:
    out = tmp_path / "input.jsonl"
    arn = deploy_lambda(cloud, "t-sched-input", RECORDER, environment={"OUT": str(out)})
    events = cloud.client("events")
    events.put_rule(Name="t-input", ScheduleExpression="rate(1 minute)")
    events.put_targets(Rule="t-input", Targets=[{"Id": "fn", "Arn": arn,
                                                 "Input": json.dumps({"job": "scan"})}])
    lines = wait_for(lambda: _lines(out), timeout=15)
    events.remove_targets(Rule="t-input", Ids=["fn"])
    events.delete_rule(Name="t-input")
    assert lines[0]["event"] == {"job": "scan"}
    wait_for(lambda: _rule_status(cloud, "t-input") is None)


def test_cron_rule_reports_next_fire(cloud: RunningCloud) -> None:
    events = cloud.client("events")
    events.put_rule(Name="t-cron", ScheduleExpression="cron(0 3 * * ? *)")
    status = wait_for(lambda: _rule_status(cloud, "t-cron"))
    assert status["error"] is None and status["count"] == 0
    assert status["next_fire_iso"].endswith("T03:00:00Z")
    assert status["next_fire"] > cloud.status()["simulated_now"]
    events.delete_rule(Name="t-cron")


def test_cron_rule_fires_at_its_scheduled_minute(cloud: RunningCloud, tmp_path: Path) -> None:
    """A cron expression fires at the minute it names, in simulated UTC, and then reports
    its next fire a day later
    (https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-scheduled-rule-pattern.html)."""
    out = tmp_path / "cron.jsonl"
    arn = deploy_lambda(cloud, "t-sched-cron", RECORDER, environment={"OUT": str(out)})
    cloud.client("lambda").invoke(FunctionName="t-sched-cron", Payload=b'{"warm": true}')
    out.unlink()
    # Two whole simulated minutes ahead: 6 wall seconds at 20x, never a minute already begun.
    at = (int(cloud.status()["simulated_now"]) // 60 + 3) * 60
    when = datetime.fromtimestamp(at, tz=UTC)
    events = cloud.client("events")
    events.put_rule(Name="t-cron-fire",
                    ScheduleExpression=f"cron({when.minute} {when.hour} * * ? *)")
    events.put_targets(Rule="t-cron-fire", Targets=[{"Id": "fn", "Arn": arn}])
    try:
        line = wait_for(lambda: _lines(out), timeout=60)[0]
        fired = datetime.fromisoformat(line["event"]["time"].replace("Z", "+00:00"))
        assert fired.timestamp() == at, (fired, when)
        clock = _clock(cloud)
        delivered = clock.origin + (line["wall"] - clock.origin) * clock.scale
        assert 0 <= delivered - at < 60, delivered - at
        status = _rule_status(cloud, "t-cron-fire")
        assert status and status["count"] == 1 and status["next_fire"] == at + 86400
    finally:
        events.remove_targets(Rule="t-cron-fire", Ids=["fn"])
        events.delete_rule(Name="t-cron-fire")


def _clock(cloud: RunningCloud) -> Clock:
    status = cloud.status()
    return Clock(scale=float(status["time_scale"]), origin=float(status["clock_origin"]))


def test_stack_schedules_are_tracked_and_missing_targets_reported(cloud: RunningCloud) -> None:
    rules = cloud.status()["parts"]["scheduler"]["rules"]
    name = cloud.name("trading-heartbeat-check")
    assert rules[name]["expression"] == "rate(1 minute)"
    assert rules[cloud.name("pulumi-drift-detector")]["next_fire"] is not None
    # The handler does not exist yet: each tick reports the missing target, nothing crashes.
    lambdas = cloud.status()["resources"].get("not_implemented", {}).get("lambdas", [])
    if "trading-heartbeat-check" in lambdas:
        status = wait_for(lambda: _rule_status(cloud, name)["missing_targets"], timeout=10)
        assert status[0].endswith(":function:" + name)


def test_put_events_reaches_lambda_targets_of_matching_rules_only(
        cloud: RunningCloud, tmp_path: Path) -> None:
    out = tmp_path / "events.jsonl"
    arn = deploy_lambda(cloud, "t-sched-events", RECORDER, environment={"OUT": str(out)})
    events = cloud.client("events")
    events.put_rule(Name="t-pattern", EventPattern=json.dumps(
        {"source": ["tradai.test"], "detail": {"kind": ["ping"]}}))
    events.put_targets(Rule="t-pattern", Targets=[{"Id": "fn", "Arn": arn}])
    # moto would match a schedule-only rule to every event; EventBridge never does.
    events.put_rule(Name="t-sched-only", ScheduleExpression="rate(1 hour)")
    events.put_targets(Rule="t-sched-only", Targets=[{"Id": "fn", "Arn": arn,
                                                      "Input": '{"wrong": true}'}])

    def put(kind: str, seq: int) -> None:
        resp = events.put_events(Entries=[{"Source": "tradai.test", "DetailType": "test",
                                           "Detail": json.dumps({"kind": kind, "seq": seq})}])
        assert resp["FailedEntryCount"] == 0

    put("other", 0)
    put("ping", 1)
    put("ping", 2)  # a barrier: anything wrongly delivered was queued before it
    lines = wait_for(lambda: len(_lines(out)) >= 2 and _lines(out), timeout=10)
    for rule in ("t-pattern", "t-sched-only"):
        events.remove_targets(Rule=rule, Ids=["fn"])
        events.delete_rule(Name=rule)
    assert sorted(x["event"]["detail"]["seq"] for x in lines) == [1, 2]
    event = lines[0]["event"]
    assert event["source"] == "tradai.test" and event["detail-type"] == "test"
    assert event["time"].endswith("Z") and event["account"] and event["id"]
