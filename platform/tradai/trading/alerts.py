"""The alerts ``trading-heartbeat-check`` publishes to the ``alerts`` topic: one when a session's
heartbeat goes stale, one when it returns.

Each is a subject (what a mail client or pager shows) and a JSON body a person can read and a
subscriber can parse. SNS wants the subject in ASCII, without line breaks, under 100 characters
(https://docs.aws.amazon.com/sns/latest/api/API_Publish.html).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

STALE = "trading-session-stale"
RECOVERED = "trading-session-recovered"
SUBJECT_MAX = 99


def _iso(epoch: float | None) -> str | None:
    if epoch is None:
        return None
    return datetime.fromtimestamp(float(epoch), UTC).isoformat(timespec="seconds").replace(
        "+00:00", "Z")


def _session(item: dict[str, Any]) -> dict[str, Any]:
    version = item.get("version")
    return {"session": item.get("strategy_id"), "strategy": item.get("strategy"),
            "mode": item.get("mode"), "ref": item.get("ref"),
            "version": int(version) if version is not None else None,
            "owner": item.get("owner"), "service": item.get("service_name"),
            "task": item.get("task_arn")}


def stale_alert(item: dict[str, Any], age: float, threshold: float, now: float,
                incident: int) -> tuple[str, dict[str, Any]]:
    """Subject and body of the one alert of a stale incident. ``age`` is simulated seconds since
    the last heartbeat (since the session was created when none ever came)."""
    last = item.get("last_heartbeat")
    never = last is None
    what = "no heartbeat since it started" if never else f"no heartbeat for {int(age)} s"
    subject = f"STALE trading session {item.get('strategy_id')}: {what}"
    body = {
        "alert": STALE,
        **_session(item),
        "heartbeat_age_seconds": round(age, 1),
        "stale_after_seconds": threshold,
        "last_heartbeat": _iso(float(last)) if not never else None,
        "never_started": never,
        "stale_since": _iso(now),
        "incident": incident,
        "detail": (f"Session {item.get('strategy_id')} ({item.get('mode')}) of "
                   f"{item.get('owner')}: {what} (threshold {int(threshold)} s). The strategy "
                   f"container may be frozen, crashed or cut off; a recovery notice follows "
                   f"when heartbeats return."),
    }
    return _subject(subject), body


def recovery_notice(item: dict[str, Any], age: float, stale_since: float,
                    now: float) -> tuple[str, dict[str, Any]]:
    """Subject and body of the notice that a stale session's heartbeats have returned."""
    lasted = max(0.0, now - stale_since)
    subject = (f"RECOVERED trading session {item.get('strategy_id')}: heartbeats back after "
               f"{int(lasted)} s stale")
    last = item.get("last_heartbeat")
    body = {
        "alert": RECOVERED,
        **_session(item),
        "heartbeat_age_seconds": round(age, 1),
        "last_heartbeat": _iso(float(last)) if last is not None else None,
        "stale_since": _iso(stale_since),
        "recovered_at": _iso(now),
        "stale_seconds": round(lasted, 1),
        "incident": int(item.get("incidents") or 0),
        "detail": (f"Session {item.get('strategy_id')} ({item.get('mode')}) of "
                   f"{item.get('owner')} writes heartbeats again."),
    }
    return _subject(subject), body


def _subject(text: str) -> str:
    ascii_only = text.encode("ascii", "replace").decode("ascii")
    return " ".join(ascii_only.split())[:SUBJECT_MAX]


def publish(sns: Any, topic_arn: str, subject: str, body: dict[str, Any]) -> str:
    """Publish one alert; the ``alert`` message attribute lets subscribers filter by kind."""
    resp = sns.publish(TopicArn=topic_arn, Subject=subject,
                       Message=json.dumps(body, indent=2, default=str),
                       MessageAttributes={"alert": {"DataType": "String",
                                                    "StringValue": body["alert"]}})
    return str(resp["MessageId"])
