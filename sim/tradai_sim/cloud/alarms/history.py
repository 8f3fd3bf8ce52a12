"""Alarm history as DescribeAlarmHistory returns it: ConfigurationUpdate, StateUpdate and
Action items, kept two weeks (of simulated time), also for alarms since deleted.

https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_DescribeAlarmHistory.html
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

RETENTION_SECONDS = 14 * 86400
CONFIGURATION, STATE, ACTION = "ConfigurationUpdate", "StateUpdate", "Action"


@dataclass(frozen=True)
class HistoryItem:
    alarm_name: str
    timestamp: float  # simulated epoch seconds
    item_type: str
    summary: str
    data: dict[str, Any]
    alarm_type: str = "MetricAlarm"

    def as_api(self) -> dict[str, Any]:
        return {"AlarmName": self.alarm_name, "AlarmType": self.alarm_type,
                "Timestamp": datetime.fromtimestamp(self.timestamp, UTC),
                "HistoryItemType": self.item_type, "HistorySummary": self.summary,
                "HistoryData": json.dumps(self.data)}


def configuration_item(name: str, at: float, created: bool, config: dict[str, Any],
                       alarm_type: str = "MetricAlarm") -> HistoryItem:
    kind = "Create" if created else "Update"
    return HistoryItem(name, at, CONFIGURATION, f'Alarm "{name}" {kind.lower()}d',
                       {"version": "1.0", "type": kind, f"{kind.lower()}dAlarm": config},
                       alarm_type)


def state_item(name: str, at: float, old: tuple[str, str], new: tuple[str, str, str],
               alarm_type: str = "MetricAlarm") -> HistoryItem:
    """``old`` is (state, reason); ``new`` is (state, reason, reason data JSON)."""
    try:
        new_data: Any = json.loads(new[2]) if new[2] else None
    except ValueError:
        new_data = new[2]
    data = {"version": "1.0", "oldState": {"stateValue": old[0], "stateReason": old[1]},
            "newState": {"stateValue": new[0], "stateReason": new[1],
                         "stateReasonData": new_data}}
    return HistoryItem(name, at, STATE, f"Alarm updated from {old[0]} to {new[0]}", data,
                       alarm_type)


def action_item(name: str, at: float, action: str, ok: bool, detail: str,
                alarm_type: str = "MetricAlarm") -> HistoryItem:
    summary = (f"Successfully executed action {action}" if ok
               else f"Failed to execute action {action}. Received error: \"{detail}\"")
    data = {"actionState": "Succeeded" if ok else "Failed", "notificationResource": action,
            "stateUpdateTimestamp": int(at * 1000), "detail": detail}
    return HistoryItem(name, at, ACTION, summary, data, alarm_type)


class HistoryStore:
    def __init__(self) -> None:
        self._items: list[HistoryItem] = []
        self._lock = threading.Lock()

    def add(self, item: HistoryItem) -> None:
        with self._lock:
            cutoff = item.timestamp - RETENTION_SECONDS
            self._items = [i for i in self._items if i.timestamp >= cutoff]
            self._items.append(item)

    def query(self, alarm_name: str | None = None, item_type: str | None = None,
              start: float | None = None, end: float | None = None,
              newest_first: bool = True) -> list[HistoryItem]:
        with self._lock:
            items = list(self._items)
        found = [(i.timestamp, n, i) for n, i in enumerate(items)
                 if (alarm_name is None or i.alarm_name == alarm_name)
                 and (item_type is None or i.item_type == item_type)
                 and (start is None or i.timestamp >= start)
                 and (end is None or i.timestamp <= end)]
        found.sort(key=lambda t: t[:2], reverse=newest_first)  # insertion order breaks ties
        return [i for _, _, i in found]
