"""The drill's timeline: what the drill did, and what the stack did in reply, in simulated time.

Gathered after the run from the control plane's own records (FIS experiment timelines, Auto
Scaling history, NAT egress processes, AZ outages, ECS service task starts, alarm history,
SNS publishes) plus the drill's own events and the recoveries the sampler saw.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from tradai_sim.drills.context import DrillContext, Event


def collect(ctx: DrillContext, samples: list[dict[str, Any]]) -> list[Event]:
    since = ctx.started_at
    events = [e for e in ctx.events if e.at >= since]
    if ctx.local:
        status = ctx.control("/status")["parts"]
        events += _fis(ctx, since) + _autoscaling(status, since) + _network(status, since)
        events += _zones(status, since) + _ecs(status, since) + _alarms(ctx, since)
        events += _sns(ctx, since)
    events += _transitions(samples)
    return sorted(events, key=lambda e: e.at)


def _fis(ctx: DrillContext, since: float) -> list[Event]:
    out = []
    for exp in ctx.control("/fis/experiments").get("experiments", []):
        if exp.get("tags", {}).get("tradai:drill") != ctx.run_id:
            continue
        for item in exp.get("timeline", []):
            if item["sim"] >= since and item.get("kind") == "action":
                out.append(Event(item["sim"], item["wall"], "fault",
                                 f"FIS action {item.get('action')} {item['status']}"))
    return out


def _autoscaling(status: dict[str, Any], since: float) -> list[Event]:
    wanted = {"instance-lost": "NAT instance lost", "instance-launched": "replacement launched",
              "instance-in-service": "instance in service (lifecycle hook completed)",
              "instance-unhealthy": "instance unhealthy", "launch-failed": "launch failed",
              "lifecycle-completed": "update-nat-routes completed the lifecycle action"}
    return [Event(h["at"], 0.0, "recovery" if "service" in h["event"] else "infra",
                  f"{wanted[h['event']]}: {h.get('instance') or ''} {h.get('az') or ''}".strip())
            for h in status.get("autoscaling", {}).get("history", [])
            if h["at"] >= since and h["event"] in wanted]


def _network(status: dict[str, Any], since: float) -> list[Event]:
    history = status.get("network", {}).get("egress", {}).get("history", [])
    return [Event(h["at"], 0.0, "infra", f"NAT egress process {h['event'].split('-')[1]} for "
                  f"{h['instance']} ({h.get('az')})") for h in history if h["at"] >= since]


def _zones(status: dict[str, Any], since: float) -> list[Event]:
    return [Event(h["at"], 0.0, "fault", f"{h['kind']} outage of {h['az']} "
                  f"{h['event'].split('-')[1]}")
            for h in status.get("zones", {}).get("history", []) if h["at"] >= since]


def _ecs(status: dict[str, Any], since: float) -> list[Event]:
    starts = status.get("ecs", {}).get("services", {}).get("recent_starts", [])
    return [Event(s["at"], 0.0, "recovery", f"ECS started a {s['service'].split('-', 2)[-1]} "
                  f"task in {s['az']}") for s in starts if s["at"] >= since]


def _alarms(ctx: DrillContext, since: float) -> list[Event]:
    out = []
    for name, alarm in ctx.control("/alarms").get("alarms", {}).items():
        for h in alarm.get("history", []):
            at = _epoch(h["at"])
            if at >= since and h.get("type") == "StateUpdate":
                out.append(Event(at, 0.0, "alarm", f"alarm {name}: {h['summary']}"))
    return out


def _sns(ctx: DrillContext, since: float) -> list[Event]:
    published = ctx.control(f"/sns/published?since={since}").get("messages", [])
    return [Event(m["simulated_time"], m["wall_time"], "alert",
                  f"SNS {m['topic_arn'].rsplit(':', 1)[-1]}: {m.get('subject') or ''}")
            for m in published]


def _transitions(samples: list[dict[str, Any]]) -> list[Event]:
    """When a sampled 0/1 series (egress) flips: lost / restored."""
    out = []
    last: dict[str, Any] = {}
    for s in samples:
        for key, value in s.items():
            if not key.startswith("egress "):
                continue
            if key in last and last[key] != value:
                what = "restored" if value else "lost"
                out.append(Event(s["t"], 0.0, "recovery" if value else "fault",
                                 f"egress from {key.split(' ', 1)[1]} {what}"))
            last[key] = value
    return out


def _epoch(text: str) -> float:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()
