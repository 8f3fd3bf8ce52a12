"""The FastAPI app: routers, the service's parts on ``app.state``, and one place that turns
domain errors into answers (4xx naming the field, 503 naming the exchange or the store)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from tradai.data.arctic_uri import StoreNotConfigured
from tradai.data.exchange import ExchangeUnavailable, UnknownPair
from tradai.data.store import StoreUnavailable
from tradai.data.validation import BadRequest
from tradai.services.data_collection.dependencies import DataCollection
from tradai.services.data_collection.routers import candles, ensure, health, queries, sync

RETRY_AFTER_S = "5"


def create_app(service: DataCollection | None = None) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        svc: DataCollection = app.state.data_collection
        svc.start()
        try:
            yield
        finally:
            svc.close()

    app = FastAPI(
        title="TradAI data collection",
        version="1",
        description="OHLCV market data in ArcticDB: ensure (backfill what is missing), "
        "freshness, metadata and incremental sync. The backend forwards `/api/v1/data/*` here.",
        lifespan=lifespan,
    )
    app.state.data_collection = service or DataCollection.build()
    for module in (health, ensure, queries, candles, sync):
        app.include_router(module.router)
    _install_error_handlers(app)
    return app


def _install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(BadRequest)
    async def bad_request(request: Request, exc: BadRequest) -> JSONResponse:
        where = "body" if request.method in ("POST", "PUT") else "query"
        return JSONResponse({"detail": [{"loc": [where, exc.field], "msg": exc.reason,
                                         "type": "value_error"}]}, status_code=422)

    @app.exception_handler(UnknownPair)
    async def unknown_pair(request: Request, exc: UnknownPair) -> JSONResponse:
        where = "body" if request.method in ("POST", "PUT") else "query"
        return JSONResponse({"detail": [{"loc": [where, "pairs"], "msg": str(exc),
                                         "type": "unknown_pair"}]}, status_code=422)

    @app.exception_handler(ExchangeUnavailable)
    async def exchange_down(request: Request, exc: ExchangeUnavailable) -> JSONResponse:
        return JSONResponse(
            {"detail": {"error": "exchange_unavailable", "exchange": exc.exchange,
                        "reason": exc.reason, "message": str(exc)}},
            status_code=503, headers={"Retry-After": RETRY_AFTER_S})

    @app.exception_handler(StoreUnavailable)
    @app.exception_handler(StoreNotConfigured)
    async def store_down(request: Request, exc: Exception) -> JSONResponse:
        return JSONResponse(
            {"detail": {"error": "store_unavailable", "reason": str(exc)[:300]}},
            status_code=503, headers={"Retry-After": RETRY_AFTER_S})
