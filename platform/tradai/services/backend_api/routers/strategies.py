"""``/api/v1/strategies``: the registry's strategies (pattern 1: a synchronous query)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Path, status
from pydantic import BaseModel

from tradai.registry.models import (
    InvalidStrategyVersion,
    StrategyDetail,
    StrategyNotFound,
    StrategySummary,
)
from tradai.services.backend_api.dependencies import OwnerDep, RegistryDep, unavailable

router = APIRouter(prefix="/api/v1/strategies", tags=["strategies"])
StrategyName = Annotated[str, Path(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9_.\-]+$")]


class StrategyList(BaseModel):
    strategies: list[StrategySummary]


@router.get("", response_model=StrategyList, summary="List registered strategies")
def list_strategies(_: OwnerDep, registry: RegistryDep) -> StrategyList:
    try:
        return StrategyList(strategies=registry.list_strategies())
    except Exception as exc:
        raise unavailable(f"strategy registry unavailable: {type(exc).__name__}: {exc}") from exc


@router.get("/{name}", response_model=StrategyDetail, summary="One strategy and its versions",
            responses={404: {"description": "No such strategy"}})
def get_strategy(name: StrategyName, _: OwnerDep, registry: RegistryDep) -> StrategyDetail:
    try:
        return registry.get_strategy(name)
    except (StrategyNotFound, InvalidStrategyVersion):
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"unknown strategy {name!r}") from None
    except Exception as exc:
        raise unavailable(f"strategy registry unavailable: {type(exc).__name__}: {exc}") from exc
