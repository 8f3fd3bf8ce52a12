"""``/api/v1/trading/sessions``: start, list, show and stop dry-run and live trading sessions.

A refusal names its reason: 422 (unknown strategy, alias or version; live without exchange
keys) in FastAPI's validation shape with the field, 404 (no such session for this caller),
409 (one already runs for this strategy and mode; already stopped), 503 (a dependency down).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, status

from tradai.authz import SESSION_DRY_RUN, SESSION_LIVE
from tradai.backtests.service import Owner
from tradai.services.backend_api.dependencies import (
    AuthorizerDep,
    OwnerDep,
    PrincipalDep,
    RegistryDep,
    TradingDep,
    check,
)
from tradai.trading.models import SessionList, SessionRequest, TradingSessionDetail

router = APIRouter(prefix="/api/v1/trading/sessions", tags=["trading"])
SessionId = Annotated[str, Path(min_length=1, max_length=160, pattern=r"^[a-z0-9\-]+$")]
_ERRORS = {403: {"description": "Role needed: trader (dry-run) or operator (live)"},
           404: {"description": "No such session for this caller"},
           409: {"description": "A session for this strategy and mode exists, or it is "
                                "already stopped"},
           422: {"description": "Invalid request: the field and the reason"},
           503: {"description": "Registry, table, ECS or Secrets Manager unavailable"}}


@router.post("", response_model=TradingSessionDetail, status_code=status.HTTP_201_CREATED,
             summary="Start a dry-run or live session (an ECS service of one task)",
             responses={k: v for k, v in _ERRORS.items() if k != 404})
def start(body: SessionRequest, principal: PrincipalDep, authorizer: AuthorizerDep,
          trading: TradingDep, registry: RegistryDep) -> TradingSessionDetail:
    _may_run(authorizer, principal, body.mode, "starting")
    return trading.start(body, Owner(id=principal.id, name=principal.name), registry)


@router.get("", response_model=SessionList, summary="The caller's sessions, newest first")
def list_sessions(owner: OwnerDep, trading: TradingDep) -> SessionList:
    return SessionList(sessions=trading.list_sessions(owner))


@router.get("/{session_id}", response_model=TradingSessionDetail,
            summary="One session with its recent trades", responses={404: _ERRORS[404]})
def show(session_id: SessionId, owner: OwnerDep, trading: TradingDep) -> TradingSessionDetail:
    return trading.show(session_id, owner)


@router.delete("/{session_id}", response_model=TradingSessionDetail,
               summary="Stop a session: its service is scaled to 0 and deleted",
               responses={k: _ERRORS[k] for k in (403, 404, 409, 503)})
def stop(session_id: SessionId, principal: PrincipalDep, authorizer: AuthorizerDep,
         trading: TradingDep) -> TradingSessionDetail:
    owner = Owner(id=principal.id, name=principal.name)
    # Another user's session stays 404 (not revealed); the caller's own, 403 naming the role.
    _may_run(authorizer, principal, trading.show(session_id, owner).mode, "stopping")
    return trading.stop(session_id, owner)


def _may_run(authorizer: AuthorizerDep, principal: PrincipalDep, mode: str, verb: str) -> None:
    live = str(mode) == "live"
    check(authorizer, principal, SESSION_LIVE if live else SESSION_DRY_RUN,
          f"{verb} a {'live' if live else 'dry-run'} session")
