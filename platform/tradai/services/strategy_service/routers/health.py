from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel

from tradai.services.strategy_service.dependencies import Loader

router = APIRouter(tags=["health"])


class Health(BaseModel):
    status: str
    freqtrade: str  # "ready" once the strategy engine is imported, else "loading"


@router.get("/health", response_model=Health, summary="Liveness for the ALB / ECS")
def health(loader: Loader) -> Health:
    return Health(status="ok", freqtrade="ready" if loader.ready else "loading")
