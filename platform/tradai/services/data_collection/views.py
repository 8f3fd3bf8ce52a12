"""Domain objects -> response models (kept out of the routes so they stay thin)."""

from __future__ import annotations

from tradai.data.freshness import Freshness
from tradai.data.gaps import Run
from tradai.data.store import SeriesInfo
from tradai.data.sync import SyncOutcome
from tradai.services.data_collection.jobs import Job
from tradai.services.data_collection.models import (
    Gap,
    JobError,
    JobView,
    SeriesFreshness,
    SeriesProgressView,
    StoredSeries,
    SyncOutcomeView,
    from_ms,
)


def job_view(job: Job) -> JobView:
    series = [SeriesProgressView(
        symbol=s.key.symbol, pair=s.key.pair, requested=s.requested,
        missing_before=s.missing_before, written=s.written, pages=s.pages,
        unavailable=s.unavailable, missing_after=s.missing_after, done=s.done)
        for s in job.series]
    missing = [s.missing_before for s in job.series]
    return JobView(
        job_id=job.id, status=job.status.value, exchange=job.exchange, timeframe=job.timeframe,
        start=from_ms(job.rng.start_ms), end=from_ms(job.rng.end_ms),
        created_at=from_ms(job.created_ms), started_at=from_ms(job.started_ms),
        finished_at=from_ms(job.finished_ms), requested=job.rng.candles * len(job.series),
        written=job.written,
        missing_before=None if None in missing else sum(m or 0 for m in missing),
        series=series, error=JobError(**job.error) if job.error else None)


def freshness_view(f: Freshness, gaps: list[Run], max_listed: int) -> SeriesFreshness:
    return SeriesFreshness(
        symbol=f.key.symbol, pair=f.key.pair, timeframe=f.key.timeframe,
        verdict=f.verdict.value, first_candle=from_ms(f.first_ms), last_candle=from_ms(f.last_ms),
        expected_last_candle=from_ms(f.expected_last_ms), rows=f.rows, age_seconds=f.age_s,
        max_age_seconds=f.max_age_s, lag_candles=f.lag_candles, gap_count=len(gaps),
        missing_candles=sum(g.count for g in gaps),
        gaps=[Gap(start=from_ms(g.start_ms), end=from_ms(g.end_ms), candles=g.count)
              for g in gaps[:max_listed]])


def stored_view(info: SeriesInfo) -> StoredSeries:
    k = info.key
    return StoredSeries(symbol=k.symbol, exchange=k.exchange, pair=k.pair, timeframe=k.timeframe,
                        first_candle=from_ms(info.first_ms), last_candle=from_ms(info.last_ms),
                        rows=info.rows)


def sync_outcome_view(o: SyncOutcome) -> SyncOutcomeView:
    return SyncOutcomeView(symbol=o.symbol, written=o.written, start=from_ms(o.start_ms),
                           end=from_ms(o.end_ms), error=o.error)
