from __future__ import annotations

from fastapi import APIRouter

from tradai.config.service import ConfigInvalid
from tradai.services.strategy_service.dependencies import Validator
from tradai.services.strategy_service.models import (
    ErrorResponse,
    ValidateRequest,
    ValidationErrorResponse,
    ValidationReport,
)

router = APIRouter(tags=["validation"])


@router.post(
    "/validate", response_model=ValidationReport,
    summary="Check a strategy config: schema, pairs the exchange lists, timeframe, class loads",
    responses={422: {"model": ValidationErrorResponse, "description": "what is wrong, by field"},
               503: {"model": ErrorResponse, "description": "the exchange is unreachable"}})
def validate(req: ValidateRequest, validator: Validator) -> ValidationReport:
    config = req.config.model_dump(mode="json", exclude_unset=True)
    errors = validator.validate(config)
    if errors:
        raise ConfigInvalid(errors)
    return ValidationReport(valid=True, strategy=req.config.strategy,
                            timeframe=req.config.timeframe,
                            pairs=list(req.config.exchange.pair_whitelist))
