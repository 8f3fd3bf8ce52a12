"""``/health``: the ALB's health check. Liveness only: a slow dependency must not take every
target out of the group at once."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel

router = APIRouter(tags=["health"])


class Health(BaseModel):
    status: str = "ok"
    service: str = "backend-api"


@router.get("/health", response_model=Health)
def health() -> Health:
    return Health()
