from __future__ import annotations

from fastapi import APIRouter

from tradai.services.strategy_service.dependencies import Merger, Registry
from tradai.services.strategy_service.models import (
    ErrorResponse,
    PreparedConfig,
    PrepareRequest,
    ValidationErrorResponse,
)

router = APIRouter(prefix="/configs", tags=["configs"])


@router.post(
    "/prepare", response_model=PreparedConfig,
    summary="Merge base config + the strategy version's config from S3 + runtime overrides",
    responses={404: {"model": ErrorResponse, "description": "unknown strategy/version/alias"},
               422: {"model": ValidationErrorResponse, "description": "merged config invalid"},
               503: {"model": ErrorResponse, "description": "MLflow or S3 unavailable"}})
def prepare(req: PrepareRequest, registry: Registry, merger: Merger) -> PreparedConfig:
    version = registry.get_model_version(req.strategy, req.version)
    config = merger.prepare(version, req.overrides)
    return PreparedConfig(strategy=version.name, version=version.version,
                          strategy_class=version.strategy_class,
                          config_s3_path=version.config_s3_path, config=config)
