"""The alerts ``health-check`` publishes to the ``alerts`` topic: a service failing its health
probe, and its recovery. A subject (ASCII, one line, under 100 characters, as SNS wants:
https://docs.aws.amazon.com/sns/latest/api/API_Publish.html) and a JSON body a person reads."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from tradai.health.probe import ProbeResult

FAILED = "service-unhealthy"
RECOVERED = "service-recovered"


def _iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).isoformat(timespec="seconds").replace(
        "+00:00", "Z")


def failure_alert(result: ProbeResult, health_path: str, now: float, incident: int,
                  starting_since: float | None = None) -> tuple[str, dict[str, Any]]:
    """``starting_since``: set when the service never became healthy since it was first seen
    (its start-up grace has passed)."""
    never = starting_since is not None
    subject = f"UNHEALTHY service {result.service}: {result.reason}"
    if never:
        subject = f"UNHEALTHY service {result.service}: never healthy, {result.reason}"
    detail = (f"{result.service} did not answer its health check ({result.url}): "
              f"{result.reason}")
    if starting_since is not None:
        detail += f", and has not since it was first seen {int(now - starting_since)} s ago"
    return _subject(subject), {
        "alert": FAILED, "service": result.service, "url": result.url,
        "health_path": health_path, "result": result.reason, "status_code": result.status_code,
        "latency_ms": result.latency_ms, "unhealthy_since": _iso(now), "incident": incident,
        "never_healthy": never,
        "first_seen": _iso(starting_since) if starting_since is not None else None,
        "detail": detail + ". A recovery notice follows when it answers again.",
    }


def recovery_notice(result: ProbeResult, down_since: float | None, now: float,
                    incident: int) -> tuple[str, dict[str, Any]]:
    lasted = max(0.0, now - down_since) if down_since is not None else None
    after = f" after {int(lasted)} s" if lasted is not None else ""
    return _subject(f"RECOVERED service {result.service}: healthy again{after}"), {
        "alert": RECOVERED, "service": result.service, "url": result.url,
        "result": result.reason, "latency_ms": result.latency_ms,
        "unhealthy_since": _iso(down_since) if down_since is not None else None,
        "recovered_at": _iso(now),
        "unhealthy_seconds": round(lasted, 1) if lasted is not None else None,
        "incident": incident,
        "detail": f"{result.service} answers its health check again ({result.url}).",
    }


def _subject(text: str) -> str:
    return " ".join(text.encode("ascii", "replace").decode("ascii").split())[:99]


def publish(sns: Any, topic_arn: str, subject: str, body: dict[str, Any]) -> str:
    resp = sns.publish(TopicArn=topic_arn, Subject=subject,
                       Message=json.dumps(body, indent=2, default=str),
                       MessageAttributes={"alert": {"DataType": "String",
                                                    "StringValue": body["alert"]}})
    return str(resp["MessageId"])
