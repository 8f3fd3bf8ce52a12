"""Where a trained challenger waits between the two tasks that make it a version: the strategy
container (train mode) writes the model folder to the results bucket under
``models/<run id>/model/``; the strategy-service-task (register-model) reads it back and
registers it. The strategy task's MLflow login may not register a version (it runs users'
strategy code), the strategy-service-task's may."""

from __future__ import annotations

from pathlib import Path
from typing import Any

PREFIX = "models"


def folder_prefix(run_id: str) -> str:
    return f"{PREFIX}/{run_id}/model/"


def upload(s3: Any, bucket: str, run_id: str, folder: Path) -> list[str]:
    keys = []
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        key = folder_prefix(run_id) + path.relative_to(folder).as_posix()
        s3.put_object(Bucket=bucket, Key=key, Body=path.read_bytes())
        keys.append(key)
    return keys


# The model folder's files (tradai.models.artifact): fetched by name, so the reader needs
# GetObject under the prefix only, no ListBucket.
FILES = ("model.joblib", "model.json", "reference.json")


def download(s3: Any, bucket: str, run_id: str, folder: Path) -> Path:
    from botocore.exceptions import ClientError

    prefix = folder_prefix(run_id)
    folder.mkdir(parents=True, exist_ok=True)
    for name in FILES:
        try:
            body = s3.get_object(Bucket=bucket, Key=prefix + name)["Body"].read()
        except ClientError as exc:
            if exc.response["Error"]["Code"] in ("NoSuchKey", "404", "AccessDenied"):
                raise FileNotFoundError(f"no trained model at s3://{bucket}/{prefix}{name}: "
                                        "the training task did not finish") from exc
            raise
        (folder / name).write_bytes(body)
    return folder
