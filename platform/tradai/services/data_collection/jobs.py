"""Ensure-data jobs: run in a small thread pool, observable while they run, kept in memory.

A job is one request (pairs x one timeframe x one range). Jobs are not persisted: after a
restart a job id is unknown (404), but re-posting the same request resumes from what is
stored, so the caller's retry is the recovery path. An identical request while one is still
queued or running returns that job instead of starting a second writer.
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections import OrderedDict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from tradai.clock import Clock
from tradai.data.backfill import Backfiller, BackfillResult
from tradai.data.exchange import ExchangeUnavailable, UnknownPair
from tradai.data.keys import SeriesKey
from tradai.data.store import StoreUnavailable
from tradai.data.validation import CandleRange

log = logging.getLogger(__name__)
KEEP_FINISHED = 200


class JobStatus(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


@dataclass
class SeriesProgress:
    key: SeriesKey
    requested: int
    missing_before: int | None = None
    written: int = 0
    pages: int = 0
    unavailable: int = 0
    missing_after: int | None = None
    done: bool = False


@dataclass
class Job:
    id: str
    exchange: str
    timeframe: str
    rng: CandleRange
    series: list[SeriesProgress]
    created_ms: int
    status: JobStatus = JobStatus.QUEUED
    started_ms: int | None = None
    finished_ms: int | None = None
    error: dict[str, Any] | None = None
    finished: threading.Event = field(default_factory=threading.Event)

    @property
    def signature(self) -> tuple[Any, ...]:
        return (tuple(s.key for s in self.series), self.rng)

    @property
    def written(self) -> int:
        return sum(s.written for s in self.series)


class JobManager:
    def __init__(self, backfiller: Backfiller, clock: Clock, workers: int = 2) -> None:
        self.backfiller = backfiller
        self.clock = clock
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="ensure")
        self._jobs: OrderedDict[str, Job] = OrderedDict()
        self._lock = threading.Lock()
        self._stop = threading.Event()

    def submit(self, keys: list[SeriesKey], rng: CandleRange) -> Job:
        job = Job(uuid.uuid4().hex[:16], keys[0].exchange, keys[0].timeframe, rng,
                  [SeriesProgress(k, rng.candles) for k in keys], self._now_ms())
        with self._lock:
            for other in self._jobs.values():
                if other.signature == job.signature and not other.finished.is_set():
                    return other
            self._jobs[job.id] = job
            self._trim()
        self._pool.submit(self._run, job)
        return job

    def running(self) -> int:
        with self._lock:
            return sum(1 for j in self._jobs.values() if not j.finished.is_set())

    def get(self, job_id: str) -> Job | None:
        with self._lock:
            return self._jobs.get(job_id)

    def shutdown(self) -> None:
        self._stop.set()
        self._pool.shutdown(wait=True, cancel_futures=True)

    def _run(self, job: Job) -> None:
        job.status, job.started_ms = JobStatus.RUNNING, self._now_ms()
        try:
            for progress in job.series:
                result = self.backfiller.ensure(
                    progress.key, job.rng, stop=self._stop,
                    on_plan=lambda r, p=progress: _planned(p, r),
                    on_page=lambda _k, n, p=progress: _paged(p, n))
                _finished(progress, result)
                if result.cancelled:
                    raise _Cancelled()
            job.status = JobStatus.SUCCEEDED
        except ExchangeUnavailable as exc:
            job.error = {"error": "exchange_unavailable", "exchange": exc.exchange,
                         "reason": exc.reason}
        except UnknownPair as exc:
            job.error = {"error": "unknown_pair", "exchange": exc.exchange, "pairs": exc.pairs}
        except StoreUnavailable as exc:
            job.error = {"error": "store_unavailable", "reason": str(exc)}
        except _Cancelled:
            job.error = {"error": "cancelled", "reason": "the service is shutting down"}
        except Exception as exc:  # reported on the job, never lost in a thread
            log.exception("job %s failed", job.id)
            job.error = {"error": "internal", "reason": f"{type(exc).__name__}: {exc}"}
        finally:
            if job.error is not None:
                job.status = JobStatus.FAILED
            job.finished_ms = self._now_ms()
            job.finished.set()

    def _trim(self) -> None:
        done = [j for j in self._jobs.values() if j.finished.is_set()]
        for j in done[: max(0, len(done) - KEEP_FINISHED)]:
            del self._jobs[j.id]

    def _now_ms(self) -> int:
        return int(self.clock.now() * 1000)


class _Cancelled(Exception):
    pass


def _planned(p: SeriesProgress, r: BackfillResult) -> None:
    p.missing_before = r.missing_before


def _paged(p: SeriesProgress, written: int) -> None:
    p.written += written
    p.pages += 1


def _finished(p: SeriesProgress, r: BackfillResult) -> None:
    p.written, p.pages, p.unavailable = r.written, r.pages, r.unavailable
    p.missing_after, p.done = r.missing_after, not r.cancelled
