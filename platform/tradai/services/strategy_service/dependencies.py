"""What the routes need, as FastAPI dependencies: tests override any of them."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from tradai.config.service import ConfigMergeService, base_config
from tradai.registry.adapter import MLflowAdapter
from tradai.registry.config_store import ConfigStore
from tradai.registry.settings import RegistrySettings
from tradai.services.strategy_service.loader import StrategyLoader
from tradai.services.strategy_service.markets import MarketCatalog
from tradai.services.strategy_service.settings import StrategyServiceSettings
from tradai.services.strategy_service.validation import ConfigValidator


def get_settings(request: Request) -> StrategyServiceSettings:
    return request.app.state.settings  # type: ignore[no-any-return]


def get_markets(request: Request) -> MarketCatalog:
    return request.app.state.markets  # type: ignore[no-any-return]


def get_loader(request: Request) -> StrategyLoader:
    return request.app.state.loader  # type: ignore[no-any-return]


Settings = Annotated[StrategyServiceSettings, Depends(get_settings)]
Markets = Annotated[MarketCatalog, Depends(get_markets)]
Loader = Annotated[StrategyLoader, Depends(get_loader)]


def get_validator(markets: Markets, loader: Loader) -> ConfigValidator:
    return ConfigValidator(markets, loader)


def get_config_store(settings: Settings) -> ConfigStore:
    registry = RegistrySettings(mlflow_url=settings.mlflow_url,
                                configs_bucket=settings.configs_bucket)
    # RegistryUnavailable (-> 503) names the missing setting.
    return ConfigStore.from_settings(registry.require_configs_bucket())


Store = Annotated[ConfigStore, Depends(get_config_store)]


def get_registry(request: Request, store: Store) -> MLflowAdapter:
    cached: MLflowAdapter | None = getattr(request.app.state, "registry", None)
    if cached is None:
        settings = get_settings(request)
        url = RegistrySettings(mlflow_url=settings.mlflow_url).require_mlflow_url()
        cached = request.app.state.registry = MLflowAdapter(url, store)
    return cached


def get_merge_service(store: Store, settings: Settings) -> ConfigMergeService:
    return ConfigMergeService(store, base_config(settings.exchange_url))


Validator = Annotated[ConfigValidator, Depends(get_validator)]
Registry = Annotated[MLflowAdapter, Depends(get_registry)]
Merger = Annotated[ConfigMergeService, Depends(get_merge_service)]
