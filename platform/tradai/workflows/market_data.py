"""EnsureData: make sure the job's candles are in ArcticDB, through the data collection
service (``POST /api/v1/data/ensure``, see ``tradai.services.data_collection``).

The range is the job's timerange plus the version's warmup days before it (indicators need
history). The call blocks up to ``wait_seconds`` (<= 150, inside the Lambda's 180 s) and
polls the job on 202. 503 or an unreachable service is ``DataServiceUnavailable`` (the
workflow retries; a re-posted request resumes from what is stored); 422 or a failed job is
``DataRequestRefused`` (deterministic: the job ends FAILED with the service's reason).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

MAX_WAIT_SECONDS = 150.0
POLL_SECONDS = 2.0
MARGIN_SECONDS = 10.0  # left of the Lambda's time to report instead of being killed
DEFAULT_DAYS = 30  # a job without a timerange backtests the last 30 days


class DataServiceUnavailable(RuntimeError):
    """The data service, the exchange or the store did not answer (transient)."""


class DataRequestRefused(ValueError):
    """The data service refused the range or could not fill it (deterministic)."""


@dataclass(frozen=True)
class DataRange:
    start: datetime
    end: datetime | None  # None: up to the newest closed candle


def data_range(timerange: str | None, warmup_days: int, now: datetime) -> DataRange:
    warmup = timedelta(days=max(warmup_days, 0))
    if not timerange:
        return DataRange(now - timedelta(days=DEFAULT_DAYS) - warmup, None)
    first, _, last = timerange.partition("-")
    start = datetime.strptime(first, "%Y%m%d").replace(tzinfo=UTC)
    end = datetime.strptime(last, "%Y%m%d").replace(tzinfo=UTC) if last else None
    return DataRange(start - warmup, None if end is None or end >= now else end)


class DataCollectionClient:
    def __init__(self, base_url: str, http: httpx.Client | None = None) -> None:
        self.base = base_url.rstrip("/")
        self.http = http or httpx.Client(timeout=httpx.Timeout(MAX_WAIT_SECONDS + 15))

    def ensure(self, pairs: list[str], timeframe: str, rng: DataRange,
               seconds_left: float) -> dict[str, Any]:
        deadline = time.monotonic() + seconds_left - MARGIN_SECONDS
        body: dict[str, Any] = {"pairs": pairs, "timeframe": timeframe,
                                "start": rng.start.isoformat(),
                                "wait_seconds": _wait(deadline)}
        if rng.end is not None:
            body["end"] = rng.end.isoformat()
        job = self._call("POST", "/api/v1/data/ensure", json=body).json()
        while job.get("status") not in ("succeeded", "failed"):  # 202: poll the job
            if time.monotonic() + POLL_SECONDS > deadline:
                raise DataServiceUnavailable(f"data job {job.get('job_id')} still running; "
                                             "a retry resumes it")
            time.sleep(POLL_SECONDS)
            job = self._call("GET", f"/api/v1/data/jobs/{job['job_id']}").json()
        if job.get("status") != "succeeded":
            raise DataRequestRefused(f"data job failed: {_job_error(job)}")
        return {"data_job_id": job.get("job_id"), "requested": job.get("requested"),
                "written": job.get("written"), "start": job.get("start"), "end": job.get("end")}

    def _call(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        try:
            resp = self.http.request(method, self.base + path, **kwargs)
        except httpx.HTTPError as exc:
            raise DataServiceUnavailable(f"data collection service unreachable: "
                                         f"{type(exc).__name__}: {exc}") from exc
        if resp.status_code in (200, 202):
            return resp
        if resp.status_code == 422:
            raise DataRequestRefused(f"data request refused: {_detail(resp)}")
        raise DataServiceUnavailable(f"data collection answered {resp.status_code}: "
                                     f"{_detail(resp)}")


def _wait(deadline: float) -> float:
    return round(max(0.0, min(MAX_WAIT_SECONDS, deadline - time.monotonic())), 1)


def _detail(resp: httpx.Response) -> str:
    try:
        body = resp.json()
    except ValueError:
        return resp.text[:300]
    if isinstance(body, dict) and isinstance(body.get("error"), dict):
        return _job_error(body)
    detail = body.get("detail", body) if isinstance(body, dict) else body
    if isinstance(detail, list):
        return "; ".join(f"{'.'.join(str(p) for p in d.get('loc', [])[1:])}: {d.get('msg')}"
                         for d in detail if isinstance(d, dict))
    return str(detail)[:300]


def _job_error(job: dict[str, Any]) -> str:
    err = job.get("error") or {}
    return str(err.get("reason") or err.get("error") or job.get("status") or "unknown")
