"""Freqtrade's trade database, kept in S3 between the tasks of a session.

A session's task can die (Spot interruption, a crash, an AZ lost) and ECS starts another; the
open trades must survive it. The database is copied with SQLite's backup API (consistent while
the bot holds it open) to ``s3://<bucket>/trading/<session>/tradesv3.sqlite`` whenever it
changed, at most once per loop, and restored before the bot starts. What a task did after its
last upload is lost with it: at most one loop of the bot.
"""

from __future__ import annotations

import hashlib
import logging
import sqlite3
from pathlib import Path
from typing import Any

from botocore.exceptions import ClientError

log = logging.getLogger(__name__)


class TradeState:
    def __init__(self, s3: Any, bucket: str | None, session_id: str, path: Path) -> None:
        self.s3 = s3
        self.bucket = bucket
        self.key = f"trading/{session_id}/tradesv3.sqlite"
        self.path = path
        self._uploaded: str | None = None
        self._seen: tuple[int, int] | None = None  # (mtime_ns, size) at the last save

    @property
    def db_url(self) -> str:
        return f"sqlite:///{self.path}"

    def restore(self) -> bool:
        """True if an earlier task's database was found and put in place."""
        if not self.bucket:
            return False
        try:
            self.s3.download_file(self.bucket, self.key, str(self.path))
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("404", "NoSuchKey"):
                return False
            raise
        self._uploaded = _digest(self.path.read_bytes())
        log.info("restored the session's trades from s3://%s/%s", self.bucket, self.key)
        return True

    def save(self) -> bool:
        """Uploads a consistent copy if the database changed since the last upload."""
        if not self.bucket or not self.path.exists():
            return False
        # Called after every loop of the bot: an untouched file is not copied and hashed.
        stat = self.path.stat()
        seen = (stat.st_mtime_ns, stat.st_size)
        if seen == self._seen:
            return False
        self._seen = seen
        copy = self.path.with_suffix(".upload")
        src = sqlite3.connect(self.path)
        dst = sqlite3.connect(copy)
        try:
            src.backup(dst)
        finally:
            dst.close()
            src.close()
        data = copy.read_bytes()
        digest = _digest(data)
        if digest == self._uploaded:
            return False
        self.s3.put_object(Bucket=self.bucket, Key=self.key, Body=data)
        self._uploaded = digest
        return True


def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
