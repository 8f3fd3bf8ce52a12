"""The Scheduled Event shape and the target input transformations EventBridge applies."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from tradai_sim.cloud.scheduler.event import scheduled_event, target_input

TS = datetime(2026, 1, 5, 10, 1, 0, 400000, tzinfo=UTC).timestamp()


def test_scheduled_event_shape() -> None:
    e = scheduled_event("arn:rule/x", TS, "123456789012", "eu-central-1")
    assert e["detail-type"] == "Scheduled Event" and e["source"] == "aws.events"
    assert e["time"] == "2026-01-05T10:01:00Z"
    assert e["resources"] == ["arn:rule/x"] and e["detail"] == {}
    assert e["version"] == "0" and e["account"] == "123456789012" and e["id"]


def test_input_inputpath_and_transformer() -> None:
    e = scheduled_event("arn:rule/x", TS, "1", "eu-central-1")
    assert target_input({"Input": '{"a": 1}'}, e) == {"a": 1}
    assert target_input({"InputPath": "$.resources"}, e) == ["arn:rule/x"]
    assert target_input({"InputPath": "$"}, e) == e
    t = {"InputTransformer": {"InputPathsMap": {"t": "$.time", "r": "$.resources"},
                              "InputTemplate": '{"at": <t>, "rules": <r>}'}}
    assert target_input(t, e) == {"at": "2026-01-05T10:01:00Z", "rules": ["arn:rule/x"]}
    assert target_input({}, e) is e
    assert json.dumps(target_input({"InputTransformer": {"InputTemplate": "tick"}}, e))


def test_transformer_string_values_inside_quotes_are_raw() -> None:
    e = scheduled_event("arn:rule/x", TS, "1", "eu-central-1")
    t = {"InputTransformer": {"InputPathsMap": {"t": "$.time"},
                              "InputTemplate": '{"msg": "tick at <t>"}'}}
    assert target_input(t, e) == {"msg": "tick at 2026-01-05T10:01:00Z"}
    plain = {"InputTransformer": {"InputPathsMap": {"t": "$.time"},
                                  "InputTemplate": "tick at <t>"}}
    assert target_input(plain, e) == "tick at 2026-01-05T10:01:00Z"
