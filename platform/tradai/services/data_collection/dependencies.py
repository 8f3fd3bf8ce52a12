"""The service's parts, built once per app from settings, and handed to routes by FastAPI."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Annotated

from fastapi import Depends, Request

from tradai.clock import Clock, default_clock
from tradai.data.backfill import Backfiller
from tradai.data.exchange import ExchangeGateway
from tradai.data.settings import DataSettings
from tradai.data.store import OhlcvStore
from tradai.data.sync import Syncer
from tradai.services.data_collection.jobs import JobManager
from tradai.services.data_collection.settings import ServiceSettings


@dataclass
class DataCollection:
    data: DataSettings
    service: ServiceSettings
    clock: Clock
    store: OhlcvStore
    gateway: ExchangeGateway
    backfiller: Backfiller
    jobs: JobManager
    syncer: Syncer
    stop: threading.Event = field(default_factory=threading.Event)
    _sync_thread: threading.Thread | None = None

    @classmethod
    def build(cls, data: DataSettings | None = None, service: ServiceSettings | None = None,
              clock: Clock | None = None, store: OhlcvStore | None = None,
              gateway: ExchangeGateway | None = None) -> DataCollection:
        data = data or DataSettings()
        service = service or ServiceSettings()
        clock = clock or default_clock()
        store = store or OhlcvStore.from_settings(data)
        gateway = gateway or ExchangeGateway(data)
        backfiller = Backfiller(store, gateway, data.page_limit)
        jobs = JobManager(backfiller, clock, service.job_workers)
        syncer = Syncer(backfiller, clock, service.sync_config(data.max_candles), data.exchange_id)
        return cls(data, service, clock, store, gateway, backfiller, jobs, syncer)

    def now_ms(self) -> int:
        return int(self.clock.now() * 1000)

    def start(self) -> None:
        if self.service.sync_enabled:
            self._sync_thread = threading.Thread(target=self.syncer.run, args=(self.stop,),
                                                 name="sync", daemon=True)
            self._sync_thread.start()

    def close(self) -> None:
        self.stop.set()
        self.jobs.shutdown()
        if self._sync_thread is not None:
            self._sync_thread.join(timeout=10)


def get_service(request: Request) -> DataCollection:
    return request.app.state.data_collection


ServiceDep = Annotated[DataCollection, Depends(get_service)]
