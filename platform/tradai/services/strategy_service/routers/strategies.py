from __future__ import annotations

from fastapi import APIRouter, status

from tradai.config.service import ConfigInvalid
from tradai.registry.models import StrategyDetail, StrategySummary, StrategyVersion
from tradai.services.strategy_service.dependencies import Registry, Validator
from tradai.services.strategy_service.models import (
    ErrorResponse,
    RegisterRequest,
    ValidationErrorResponse,
)

router = APIRouter(prefix="/strategies", tags=["strategies"])
NOT_FOUND = {404: {"model": ErrorResponse, "description": "unknown strategy/version/alias"},
             503: {"model": ErrorResponse, "description": "MLflow unavailable"}}


@router.post(
    "", response_model=StrategyVersion, status_code=status.HTTP_201_CREATED,
    summary="Register a new strategy, or a new version of one, after validating its config",
    responses={422: {"model": ValidationErrorResponse, "description": "invalid, by field"},
               503: {"model": ErrorResponse, "description": "MLflow, S3 or exchange down"}})
def register(req: RegisterRequest, registry: Registry, validator: Validator) -> StrategyVersion:
    config = req.config.model_dump(mode="json", exclude_unset=True)
    strategy_class = req.strategy_class or req.config.strategy
    config["strategy"] = strategy_class
    errors = validator.validate(config, source_code=req.source_code)
    if errors:
        raise ConfigInvalid(errors)
    return registry.register_version(
        req.name, strategy_class, config, source_code=req.source_code,
        warmup_days=req.warmup_days, description=req.description, aliases=req.aliases)


@router.get("", response_model=list[StrategySummary], summary="Registered strategies",
            responses={503: NOT_FOUND[503]})
def list_strategies(registry: Registry) -> list[StrategySummary]:
    return registry.list_strategies()


@router.get("/{name}", response_model=StrategyDetail, responses=NOT_FOUND,
            summary="A strategy with its versions and aliases")
def get_strategy(name: str, registry: Registry) -> StrategyDetail:
    return registry.get_strategy(name)


@router.get("/{name}/versions/{ref}", response_model=StrategyVersion, responses=NOT_FOUND,
            summary="One version, by number, alias or 'latest'")
def get_version(name: str, ref: str, registry: Registry) -> StrategyVersion:
    return registry.get_model_version(name, ref)
