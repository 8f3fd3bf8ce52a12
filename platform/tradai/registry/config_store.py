"""Strategy version configs (Freqtrade config JSON) in S3, addressed by ``s3://`` paths.

Layout: ``s3://<configs bucket>/strategies/<name>/v<N>/config.json``; a version's prepared
(runnable) configs beside it, content-addressed: ``.../v<N>/prepared/<sha256[:16]>.json``.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from tradai.registry.models import RegistryUnavailable, StrategyNotFound

CONFIG_FILE = "config.json"


def config_key(name: str, version: int) -> str:
    return f"strategies/{name}/v{version}/{CONFIG_FILE}"


def prepared_key(name: str, version: int, digest: str) -> str:
    return f"strategies/{name}/v{version}/prepared/{digest[:16]}.json"


def split_s3_path(path: str) -> tuple[str, str]:
    """``s3://bucket/key`` -> (bucket, key)."""
    if not path.startswith("s3://"):
        raise ValueError(f"not an s3:// path: {path!r}")
    bucket, _, key = path[len("s3://"):].partition("/")
    if not bucket or not key:
        raise ValueError(f"an s3:// path needs a bucket and a key: {path!r}")
    return bucket, key


class ConfigStore:
    def __init__(self, s3: Any, bucket: str) -> None:
        self.s3 = s3
        self.bucket = bucket

    @classmethod
    def from_settings(cls, bucket: str) -> ConfigStore:
        from tradai.settings import aws_client

        return cls(aws_client("s3"), bucket)

    def put(self, name: str, version: int, config: dict[str, Any]) -> str:
        return self._put(config_key(name, version),
                         json.dumps(config, indent=2, sort_keys=True).encode())

    def put_prepared(self, name: str, version: int, config: dict[str, Any]) -> tuple[str, str]:
        """Store a runnable config of the version; (its s3:// path, its sha256). The same
        config always lands on the same key."""
        body = json.dumps(config, indent=2, sort_keys=True).encode()
        digest = hashlib.sha256(body).hexdigest()
        return self._put(prepared_key(name, version, digest), body), digest

    def _put(self, key: str, body: bytes) -> str:
        try:
            self.s3.put_object(Bucket=self.bucket, Key=key, Body=body,
                               ContentType="application/json")
        except (ClientError, BotoCoreError) as exc:
            raise RegistryUnavailable(f"cannot write s3://{self.bucket}/{key}: {exc}") from exc
        return f"s3://{self.bucket}/{key}"

    def get(self, path: str) -> dict[str, Any]:
        bucket, key = split_s3_path(path)
        try:
            body = self.s3.get_object(Bucket=bucket, Key=key)["Body"].read()
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in {"NoSuchKey", "NoSuchBucket", "404"}:
                raise StrategyNotFound(f"strategy config {path} does not exist") from exc
            raise RegistryUnavailable(f"cannot read {path}: {exc}") from exc
        except BotoCoreError as exc:
            raise RegistryUnavailable(f"cannot read {path}: {exc}") from exc
        try:
            config = json.loads(body)
        except json.JSONDecodeError as exc:
            raise StrategyNotFound(f"strategy config {path} is not valid JSON: {exc}") from exc
        if not isinstance(config, dict):
            raise StrategyNotFound(f"strategy config {path} is not a JSON object")
        return config
