"""Strategy configs in S3 (in-process emulator): layout, round trip, clear errors."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from tradai.registry.config_store import ConfigStore, config_key, split_s3_path
from tradai.registry.models import StrategyNotFound


@pytest.fixture()
def s3() -> Iterator[Any]:
    with mock_aws():
        client = boto3.client("s3", region_name="eu-central-1", aws_access_key_id="testing",
                              aws_secret_access_key="testing")
        client.create_bucket(Bucket="configs", CreateBucketConfiguration={
            "LocationConstraint": "eu-central-1"})
        yield client


def test_layout_and_round_trip(s3: Any) -> None:
    store = ConfigStore(s3, "configs")
    path = store.put("EmaCrossover", 3, {"timeframe": "5m"})
    assert path == "s3://configs/strategies/EmaCrossover/v3/config.json"
    assert store.get(path) == {"timeframe": "5m"}
    assert config_key("X", 1) == "strategies/X/v1/config.json"


def test_missing_or_malformed_configs_are_named(s3: Any) -> None:
    store = ConfigStore(s3, "configs")
    with pytest.raises(StrategyNotFound, match=r"s3://configs/nope\.json does not exist"):
        store.get("s3://configs/nope.json")
    s3.put_object(Bucket="configs", Key="bad.json", Body=b"[1]")
    with pytest.raises(StrategyNotFound, match="not a JSON object"):
        store.get("s3://configs/bad.json")


def test_s3_paths_are_parsed_strictly() -> None:
    assert split_s3_path("s3://b/k/x.json") == ("b", "k/x.json")
    for bad in ("http://b/k", "s3://b", "s3:///k"):
        with pytest.raises(ValueError):
            split_s3_path(bad)
