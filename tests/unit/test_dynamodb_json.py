"""DynamoDB items written as stored (sim/tradai_sim/cloud/dynamodb_json): what a client parses
is the same as through moto's shape serializer, for every attribute type, and the short path is
the one taken for the items the platform stores."""

from __future__ import annotations

import random
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from tradai_sim.cloud import dynamodb_json

REGION = "eu-central-1"


def _value(rng: random.Random, depth: int = 0) -> dict[str, Any]:
    kinds = ["S", "N", "BOOL", "NULL", "SS", "NS", "B", "BS"] + (["M", "L"] if depth < 3 else [])
    kind = rng.choice(kinds)
    if kind == "S":
        return {"S": rng.choice(["", "x", "ü ✓", "a" * 50])}
    if kind == "N":
        return {"N": rng.choice(["0", "-1.5", "123456789012345678901234567890", "1E+2"])}
    if kind == "BOOL":
        return {"BOOL": rng.random() < 0.5}
    if kind == "NULL":
        return {"NULL": True}
    if kind == "SS":
        return {"SS": sorted({f"s{rng.randrange(5)}" for _ in range(3)})}
    if kind == "NS":
        return {"NS": sorted({str(rng.randrange(100)) for _ in range(3)})}
    if kind == "B":
        return {"B": bytes(rng.randrange(256) for _ in range(8))}
    if kind == "BS":
        return {"BS": [bytes([i]) * 3 for i in range(rng.randrange(1, 3))]}
    if kind == "M":
        return {"M": {f"k{i}": _value(rng, depth + 1) for i in range(rng.randrange(0, 4))}}
    return {"L": [_value(rng, depth + 1) for _ in range(rng.randrange(0, 4))]}


def _answers(ddb: Any) -> list[Any]:
    """Every read that returns items, as the client parsed it (metadata dropped)."""
    keys = [{"pk": {"S": "p"}, "sk": {"S": f"{i:03d}"}} for i in range(0, 40, 7)]
    calls = [
        ddb.get_item(TableName="t", Key=keys[1]),
        ddb.query(TableName="t", KeyConditionExpression="pk = :p",
                  ExpressionAttributeValues={":p": {"S": "p"}}, ScanIndexForward=False),
        ddb.query(TableName="t", KeyConditionExpression="pk = :p", Limit=7,
                  ExpressionAttributeValues={":p": {"S": "p"}}),
        ddb.scan(TableName="t"),
        ddb.batch_get_item(RequestItems={"t": {"Keys": keys}}),
    ]
    for c in calls:
        c.pop("ResponseMetadata", None)
    return calls


@pytest.fixture
def ddb() -> Iterator[Any]:
    with mock_aws():
        client = boto3.client("dynamodb", region_name=REGION)
        client.create_table(TableName="t", BillingMode="PAY_PER_REQUEST",
                            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"},
                                       {"AttributeName": "sk", "KeyType": "RANGE"}],
                            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"},
                                                  {"AttributeName": "sk", "AttributeType": "S"}])
        rng = random.Random(11)
        for i in range(40):
            item = {"pk": {"S": "p"}, "sk": {"S": f"{i:03d}"}}
            item.update({f"a{j}": _value(rng) for j in range(rng.randrange(1, 8))})
            client.put_item(TableName="t", Item=item)
        yield client


def test_a_client_parses_the_same_answers_both_ways(ddb: Any,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    from moto.core.serialize import BaseJSONSerializer, ResponseSerializer

    # moto's own walk, even if a test in this process applied the cloud's patches
    monkeypatch.setattr(BaseJSONSerializer, "_serialize", ResponseSerializer._serialize)
    plain_ones = []
    real_plain = dynamodb_json.plain

    def counted(value: Any) -> bool:
        answer = real_plain(value)
        plain_ones.append(answer)
        return answer

    monkeypatch.setattr(dynamodb_json, "plain", counted)
    through_moto = _answers(ddb)
    monkeypatch.setattr(BaseJSONSerializer, "_serialize",
                        dynamodb_json.serialize(ResponseSerializer._serialize))
    as_stored = _answers(ddb)
    assert as_stored == through_moto
    assert True in plain_ones and False in plain_ones  # both paths were taken (B values)
    assert as_stored[3]["Count"] == 40 and len(as_stored[4]["Responses"]["t"]) == 6


def test_the_platforms_tickets_take_the_short_path() -> None:
    ticket = {"job_id": {"S": "j"}, "status": {"S": "QUEUED"}, "ttl": {"N": "4000000000"},
              "request": {"M": {"pairs": {"L": [{"S": "BTC/USDT"}]}, "epochs": {"NULL": True}}},
              "events": {"L": [{"M": {"at": {"S": "t"}, "event": {"S": "queued"}}}]},
              "done": {"BOOL": False}, "tags": {"SS": ["a", "b"]}}
    assert all(dynamodb_json.plain(v) for v in ticket.values())
    assert not dynamodb_json.plain({"B": b"x"})
    assert not dynamodb_json.plain({"N": 1})  # not as stored: moto's path decides
    assert not dynamodb_json.plain({"S": "x", "N": "1"})


def _stored(monkeypatch: pytest.MonkeyPatch, parse: Any) -> list[Any]:
    """The same random items (binary values included) put through ``parse``, read back
    through moto's own serializer."""
    from moto.core.parse import BaseJSONParser

    monkeypatch.setattr(BaseJSONParser, "_parse_structure", parse)
    with mock_aws():
        client = boto3.client("dynamodb", region_name=REGION)
        client.create_table(TableName="t", BillingMode="PAY_PER_REQUEST",
                            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
                            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}])
        rng = random.Random(5)
        for i in range(40):
            item = {"pk": {"S": f"{i:03d}"}}
            item.update({f"a{j}": _value(rng) for j in range(rng.randrange(1, 8))})
            client.put_item(TableName="t", Item=item)
        client.update_item(TableName="t", Key={"pk": {"S": "000"}},
                           UpdateExpression="SET m = :m",
                           ExpressionAttributeValues={":m": {"M": {"x": {"L": [{"N": "1"}]}}}})
        return sorted(client.scan(TableName="t")["Items"], key=lambda i: i["pk"]["S"])


def test_items_taken_in_as_sent_are_stored_as_moto_s_parser_stores_them(
        monkeypatch: pytest.MonkeyPatch) -> None:
    from moto.core.parse import BaseJSONParser
    from moto.core.serialize import BaseJSONSerializer, ResponseSerializer

    from tradai_sim.cloud.moto_patches import unpatched

    monkeypatch.setattr(BaseJSONSerializer, "_serialize", ResponseSerializer._serialize)
    moto_parse = unpatched(BaseJSONParser._parse_structure)
    taken: list[bool] = []

    def counted(self: Any, shape: Any, value: Any) -> Any:
        if getattr(shape, "name", None) == "AttributeValue":
            taken.append(dynamodb_json.plain(value))
        return dynamodb_json.parse_structure(moto_parse)(self, shape, value)

    through_moto = _stored(monkeypatch, moto_parse)
    as_sent = _stored(monkeypatch, counted)
    assert as_sent == through_moto and len(as_sent) == 40
    assert True in taken and False in taken  # both paths were taken (binary values)
    assert any("B" in v for item in as_sent for v in item.values())
