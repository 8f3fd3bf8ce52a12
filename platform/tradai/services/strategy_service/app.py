"""The FastAPI application: routers, dependencies' state, error mapping."""

from __future__ import annotations

from fastapi import FastAPI

from tradai.services.strategy_service import errors
from tradai.services.strategy_service.loader import StrategyLoader
from tradai.services.strategy_service.markets import CcxtMarketCatalog, MarketCatalog
from tradai.services.strategy_service.routers import configs, health, strategies, validation
from tradai.services.strategy_service.settings import StrategyServiceSettings


def create_app(settings: StrategyServiceSettings | None = None,
               markets: MarketCatalog | None = None,
               loader: StrategyLoader | None = None) -> FastAPI:
    settings = settings or StrategyServiceSettings()
    app = FastAPI(
        title="TradAI strategy service",
        version="1.0",
        description="Validates strategy configs, prepares runnable Freqtrade configs (base + "
                    "strategy version config from S3 + overrides) and registers strategy "
                    "versions in the MLflow registry.")
    app.state.settings = settings
    app.state.markets = markets or CcxtMarketCatalog(
        settings.exchange_url, settings.markets_ttl_seconds,
        egress_proxy=settings.egress_proxy)
    app.state.loader = loader or StrategyLoader(settings.strategies_dir)
    app.state.registry = None  # built on first use from settings (dependencies.get_registry)
    for router in (health.router, validation.router, configs.router, strategies.router):
        app.include_router(router)
    errors.install(app)
    return app
