"""The model lifecycle through the API: retraining runs (their state, the champion's and the
challenger's metrics, the decision), a strategy's drift state, and an operator's request to
retrain a strategy now (queued as the scheduler queues, ``tradai.retraining.requests``)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query, Request, status
from pydantic import BaseModel, ConfigDict, Field

from tradai.authz import REGISTRY_PROMOTE
from tradai.backtests.service import Owner
from tradai.clock import default_clock
from tradai.registry.models import RegistryUnavailable, StrategyNotFound
from tradai.retraining.requests import DriftTable, NoModel, RunQueue, champion_model
from tradai.retraining.runs import RunStore, iso
from tradai.services.backend_api.dependencies import (
    OwnerDep,
    PrincipalDep,
    RegistryDep,
    SettingsDep,
    _component,
    allowed,
    unavailable,
)
from tradai.services.backend_api.routers.strategies import StrategyName
from tradai.settings import aws_client

router = APIRouter(prefix="/api/v1", tags=["model lifecycle"])
RetrainerDep = Annotated[Owner, Depends(allowed(REGISTRY_PROMOTE, "requesting a retraining"))]


class RetrainingRun(BaseModel):
    model_config = ConfigDict(extra="allow", protected_namespaces=())

    run_id: str
    model_name: str
    requested_at: str
    state: str
    trigger: str | None = None
    champion_version: int | None = None
    challenger_version: int | None = None
    champion_metrics: dict[str, Any] | None = None
    challenger_metrics: dict[str, Any] | None = None
    decision: str | None = Field(default=None, description="promoted | kept")
    reason: str | None = None


class RetrainingList(BaseModel):
    runs: list[RetrainingRun]


class RetrainRequest(BaseModel):
    reason: str = Field(default="requested by an operator", min_length=1, max_length=500)
    margin: float | None = Field(default=None, ge=-1.0, le=100.0,
                                 description="This run's margin (default: the deployment's)")


def _runs(request: Request, settings: SettingsDep) -> RunStore:
    if not settings.retraining_table:
        raise unavailable("retraining runs are not configured", "TRADAI_TABLE_RETRAINING_STATE")
    ddb = _component(request, "retraining_ddb", lambda: aws_client("dynamodb"))
    return RunStore(ddb, settings.retraining_table)


RunsDep = Annotated[RunStore, Depends(_runs)]


@router.get("/retraining", response_model=RetrainingList,
            summary="Retraining runs, newest first: state, champion and challenger, decision")
def list_runs(_: OwnerDep, runs: RunsDep,
              strategy: Annotated[str | None, Query(max_length=128,
                                                    pattern=r"^[A-Za-z0-9_.\-]+$")] = None,
              limit: Annotated[int, Query(ge=1, le=200)] = 50) -> RetrainingList:
    try:
        items = runs.runs_of(strategy, limit) if strategy else runs.recent(limit)
    except Exception as exc:
        raise unavailable("retraining runs unavailable", exc) from exc
    return RetrainingList(runs=[RetrainingRun.model_validate(i) for i in items])


@router.get("/strategies/{name}/drift", summary="The drift state of a strategy's champion",
            responses={404: {"description": "No drift measured for this strategy"}})
def drift(name: StrategyName, _: OwnerDep, request: Request,
          settings: SettingsDep) -> dict[str, Any]:
    if not settings.drift_table:
        raise unavailable("drift states are not configured", "TRADAI_TABLE_DRIFT_STATE")
    table = DriftTable(_component(request, "drift_ddb", lambda: aws_client("dynamodb")),
                       settings.drift_table)
    try:
        state = table.status(name)
    except Exception as exc:
        raise unavailable("drift states unavailable", exc) from exc
    if state is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND,
                            f"no drift measured for {name}: the drift monitor checks "
                            "model-driven champions only (every 6 hours)")
    return state


@router.post("/strategies/{name}/retrain", status_code=status.HTTP_202_ACCEPTED,
             response_model=RetrainingRun, summary="Queue a retraining run of a strategy now",
             responses={404: {"description": "No such strategy or no champion"},
                        422: {"description": "The champion is not driven by a model"}})
def retrain(name: StrategyName, _: RetrainerDep, principal: PrincipalDep, runs: RunsDep,
            registry: RegistryDep, settings: SettingsDep, request: Request,
            body: RetrainRequest | None = None) -> RetrainingRun:
    body = body or RetrainRequest()
    if not settings.retraining_queue_url:
        raise unavailable("the retraining queue is not configured",
                          "TRADAI_QUEUE_RETRAINING_QUEUE")
    try:
        version = champion_model(registry, name)  # type: ignore[arg-type]
    except StrategyNotFound as exc:
        raise HTTPException(status.HTTP_404_NOT_FOUND, str(exc)) from None
    except NoModel as exc:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(exc)) from None
    except RegistryUnavailable as exc:
        raise unavailable("strategy registry unavailable", exc) from exc
    clock = default_clock()
    queue = RunQueue(runs, _component(request, "retraining_sqs", lambda: aws_client("sqs")),
                     settings.retraining_queue_url, clock)
    try:
        run, _created = queue.request(
            name, iso(clock.now()), "operator",
            f"{body.reason} (by {principal.name or principal.id})",
            champion=version.version, margin=body.margin)
    except Exception as exc:
        raise unavailable("the retraining run could not be queued", exc) from exc
    return RetrainingRun.model_validate(run)
