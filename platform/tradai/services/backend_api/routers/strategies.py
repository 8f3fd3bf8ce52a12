"""``/api/v1/strategies``: the registry's strategies (pattern 1: a synchronous query), and the
only ways to write it: registering a version (researcher), promotion and rollback (operator),
each with an audit record (``registry-audit``)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

import httpx
from fastapi import APIRouter, Depends, HTTPException, Path, Query, status
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from tradai.authz import REGISTRY_PROMOTE, STRATEGY_REGISTER
from tradai.backtests.service import Owner
from tradai.registry.audit import AuditEvent, AuditUnavailable, NoEarlierVersion
from tradai.registry.models import (
    InvalidStrategyVersion,
    StrategyDetail,
    StrategyNotFound,
    StrategySummary,
    StrategyVersion,
)
from tradai.registry.promotion import AliasUnchanged, Promotion
from tradai.services.backend_api.dependencies import (
    AuthorizerDep,
    OwnerDep,
    PrincipalDep,
    PromotionDep,
    RegistryDep,
    SettingsDep,
    allowed,
    check,
    unavailable,
)
from tradai.services.strategy_service.models import RegisterRequest

router = APIRouter(prefix="/api/v1/strategies", tags=["strategies"])
StrategyName = Annotated[str, Path(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9_.\-]+$")]


class StrategyList(BaseModel):
    strategies: list[StrategySummary]


@router.get("", response_model=StrategyList, summary="List registered strategies")
def list_strategies(_: OwnerDep, registry: RegistryDep) -> StrategyList:
    try:
        return StrategyList(strategies=registry.list_strategies())
    except Exception as exc:
        raise unavailable("strategy registry unavailable", exc) from exc


@router.get("/{name}", response_model=StrategyDetail, summary="One strategy and its versions",
            responses={404: {"description": "No such strategy"}})
def get_strategy(name: StrategyName, _: OwnerDep, registry: RegistryDep) -> StrategyDetail:
    try:
        return registry.get_strategy(name)
    except (StrategyNotFound, InvalidStrategyVersion):
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"unknown strategy {name!r}") from None
    except Exception as exc:
        raise unavailable("strategy registry unavailable", exc) from exc


# -- writes: only through these routes, each with its role check and audit record -------------
AliasName = Annotated[str, Path(min_length=1, max_length=64, pattern=r"^[A-Za-z][A-Za-z0-9_\-]*$")]
Reason = Annotated[str, Field(min_length=3, max_length=500,
                              description="why: kept in the audit record")]
# A dependency, so the role is checked before the body is (403 before 422).
RegistrarDep = Annotated[Owner, Depends(allowed(STRATEGY_REGISTER,
                                                "registering a strategy version"))]
PromoterDep = Annotated[Owner, Depends(allowed(REGISTRY_PROMOTE,
                                               "moving an alias (promotion)"))]
RollbackerDep = Annotated[Owner, Depends(allowed(REGISTRY_PROMOTE, "rolling an alias back"))]
REGISTER_TIMEOUT_SECONDS = 120.0  # validation loads the strategy and the exchange's markets


class PromoteRequest(BaseModel):
    version: int = Field(ge=1)
    reason: Reason


class RollbackRequest(BaseModel):
    alias: str = Field(default="champion", min_length=1, max_length=64)
    reason: Reason


class AuditList(BaseModel):
    events: list[AuditEvent]


class RegisterBody(RegisterRequest):
    reason: str | None = Field(default=None, max_length=500)


@router.post("", status_code=status.HTTP_201_CREATED, response_model=StrategyVersion,
             summary="Register a strategy version (validated by the strategy service)",
             responses={403: {"description": "Role needed"},
                        422: {"description": "Invalid, by field"},
                        503: {"description": "Strategy service or audit log unavailable"}})
async def register(body: RegisterBody, _: RegistrarDep, principal: PrincipalDep,
                   authorizer: AuthorizerDep, settings: SettingsDep,
                   promotion: PromotionDep) -> JSONResponse:
    if body.aliases:  # setting an alias is a promotion: what live sessions trade follows it
        check(authorizer, principal, REGISTRY_PROMOTE, "registering with aliases (promotion)")
    if not settings.strategy_service_url:
        raise unavailable("strategy service is not configured",
                          "TRADAI_STRATEGY_SERVICE_URL unset")
    before = await _aliases_before(promotion, body.name, body.aliases)
    url = settings.strategy_service_url.rstrip("/") + "/strategies"
    try:
        async with httpx.AsyncClient(timeout=REGISTER_TIMEOUT_SECONDS) as client:
            resp = await client.post(url, json=body.model_dump(
                mode="json", exclude={"reason"}, exclude_unset=True))
    except httpx.HTTPError as exc:
        raise unavailable("strategy service unreachable", exc) from exc
    if resp.status_code == 422:
        return JSONResponse({"detail": _as_request_errors(resp)}, status_code=422)
    if resp.status_code != 201:
        raise unavailable("strategy service unavailable",
                          f"answered {resp.status_code}: {resp.text[:200]}")
    created = StrategyVersion.model_validate(resp.json())
    await run_in_threadpool(promotion.registered, body.name, created.version, body.aliases,
                            before, body.reason, principal)
    return JSONResponse(created.model_dump(mode="json"), status_code=201)


@router.post("/{name}/aliases/{alias}", response_model=AuditEvent,
             summary="Promote: point an alias at a version (operator; audited)",
             responses={403: {"description": "Role needed"}, 404: {"description": "No such "
                        "strategy or version"}, 409: {"description": "Already there"}})
def promote(name: StrategyName, alias: AliasName, body: PromoteRequest,
            _: PromoterDep, principal: PrincipalDep, promotion: PromotionDep) -> AuditEvent:
    return _write(name, lambda: promotion.promote(name, alias, body.version, body.reason,
                                                  principal))


@router.post("/{name}/rollback", response_model=AuditEvent,
             summary="Roll an alias back to the version it pointed at before its last move",
             responses={403: {"description": "Role needed"}, 404: {"description": "No such "
                        "strategy"}, 409: {"description": "Nothing to roll back to"}})
def rollback(name: StrategyName, body: RollbackRequest, _: RollbackerDep,
             principal: PrincipalDep, promotion: PromotionDep) -> AuditEvent:
    return _write(name, lambda: promotion.rollback(name, body.alias, body.reason, principal))


@router.get("/{name}/audit", response_model=AuditList,
            summary="Who moved which alias of this strategy, when, from which version, why")
def audit(name: StrategyName, _: OwnerDep, promotion: PromotionDep,
          limit: Annotated[int, Query(ge=1, le=200)] = 50) -> AuditList:
    try:
        return AuditList(events=promotion.audit.history(name, limit))
    except AuditUnavailable as exc:
        raise unavailable(str(exc)) from None


def _write(name: str, fn: Callable[[], AuditEvent]) -> AuditEvent:
    try:
        return fn()
    except (StrategyNotFound, InvalidStrategyVersion) as exc:
        raise HTTPException(status.HTTP_404_NOT_FOUND, str(exc)) from None
    except (AliasUnchanged, NoEarlierVersion) as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, str(exc)) from None
    except AuditUnavailable as exc:
        raise unavailable(f"{exc} (the alias of {name} may have moved: check its audit "
                          f"and the registry)") from None
    except HTTPException:
        raise
    except Exception as exc:
        raise unavailable("strategy registry unavailable", exc) from exc


def _as_request_errors(resp: httpx.Response) -> list[dict[str, Any]]:
    """The strategy service's field errors in this API's one format (FastAPI's own)."""
    try:
        errors = resp.json().get("detail") or []
    except (ValueError, AttributeError):
        errors = []
    out = [{"loc": ["body", *str(e.get("field", "body")).split(".")],
            "msg": str(e.get("reason", "invalid")), "type": "value_error"}
           for e in errors if isinstance(e, dict)]
    return out or [{"loc": ["body"], "msg": resp.text[:500], "type": "value_error"}]


async def _aliases_before(promotion: Promotion, name: str, aliases: list[str]) -> dict[str, int]:
    if not aliases:
        return {}
    try:
        detail = await run_in_threadpool(promotion.registry.fresh_strategy, name)
    except StrategyNotFound:
        return {}  # a new strategy: no alias before
    except Exception as exc:
        raise unavailable("strategy registry unavailable", exc) from exc
    return {a: v for a, v in detail.aliases.items() if a in aliases}
