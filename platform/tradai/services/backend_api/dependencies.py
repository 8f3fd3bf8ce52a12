"""FastAPI dependencies: settings, the caller's identity, the registry, the backtest service,
the trading sessions.

Clients are built on first use and kept on ``app.state`` (a failed build is retried on the
next request), so the service starts even while a dependency is still coming up, and tests
replace any of them with ``app.dependency_overrides``.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Annotated, Any, TypeVar

from fastapi import Depends, HTTPException, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from tradai.backtests.queue import BacktestQueue
from tradai.backtests.service import BacktestService, Owner, SubmissionPolicy
from tradai.backtests.store import TicketStore
from tradai.backtests.validation import StrategyRegistry
from tradai.clock import default_clock
from tradai.services.backend_api.auth import (
    JwksCache,
    TokenRejected,
    TokenVerifier,
    discover_cognito,
)
from tradai.services.backend_api.auth.jwks import http_fetcher
from tradai.services.backend_api.auth.verifier import KeysUnavailable, bearer_token
from tradai.services.backend_api.registry import CachedRegistry, mlflow_registry
from tradai.services.backend_api.settings import BackendSettings, backend_settings
from tradai.settings import aws_client
from tradai.trading.sessions import TradingSessions
from tradai.trading.settings import TradingSettings, trading_settings

T = TypeVar("T")
_build_lock = threading.Lock()
bearer = HTTPBearer(auto_error=False, description="Cognito access or ID token")


def get_settings() -> BackendSettings:
    return backend_settings()


def _component(request: Request, name: str, build: Callable[[], T]) -> T:
    state = request.app.state
    value = getattr(state, name, None)
    if value is None:
        with _build_lock:
            value = getattr(state, name, None)
            if value is None:
                value = build()
                setattr(state, name, value)
    return value  # type: ignore[no-any-return]


def unavailable(reason: str) -> HTTPException:
    return HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, detail=reason)


# -- identity --------------------------------------------------------------------------------
def get_verifier(request: Request) -> TokenVerifier:
    def build() -> TokenVerifier:
        try:
            cfg = discover_cognito()
        except Exception as exc:
            raise unavailable(f"authentication is not configured yet: {exc}") from exc
        return TokenVerifier(cfg.issuer, cfg.client_id, JwksCache(http_fetcher(cfg.jwks_url)))
    return _component(request, "verifier", build)


def get_owner(
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
    verifier: Annotated[TokenVerifier, Depends(get_verifier)],
) -> Owner:
    header = f"{credentials.scheme} {credentials.credentials}" if credentials else None
    try:
        identity = verifier.verify(bearer_token(header))
    except TokenRejected as exc:
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, detail=exc.reason, headers={
            "WWW-Authenticate": f'Bearer error="invalid_token", error_description='
                                f'"{exc.reason}"'}) from None
    except KeysUnavailable as exc:
        raise unavailable(str(exc)) from None
    return Owner(id=identity.sub, name=identity.username)


# -- registry and backtests --------------------------------------------------------------------
def get_registry(request: Request,
                 settings: Annotated[BackendSettings, Depends(get_settings)]) -> StrategyRegistry:
    if not settings.mlflow_url:
        raise unavailable("strategy registry is not configured (TRADAI_MLFLOW_URL unset)")

    def build() -> StrategyRegistry:
        try:
            inner = mlflow_registry(settings.mlflow_url or "")
        except Exception as exc:
            raise unavailable(f"strategy registry unavailable: {exc}") from exc
        return CachedRegistry(inner, settings.registry_cache_seconds)
    return _component(request, "registry", build)


def get_backtests(request: Request,
                  settings: Annotated[BackendSettings, Depends(get_settings)],
                  registry: Annotated[StrategyRegistry, Depends(get_registry)],
                  ) -> BacktestService:
    if not settings.queue_url or not settings.table:
        raise unavailable("backtest queue or workflow-state table not configured "
                          "(TRADAI_QUEUE_BACKTEST_QUEUE / TRADAI_TABLE_WORKFLOW_STATE)")

    def build() -> dict[str, Any]:
        return {"store": TicketStore(aws_client("dynamodb"), settings.table or "",
                                     default_clock()),
                "queue": BacktestQueue(aws_client("sqs"), settings.queue_url or "")}
    clients = _component(request, "aws", build)
    return BacktestService(clients["store"], clients["queue"], registry, default_clock(),
                           SubmissionPolicy(settings.max_pairs, settings.ttl_days))


def get_store(request: Request,
              settings: Annotated[BackendSettings, Depends(get_settings)]) -> TicketStore:
    """Reading tickets needs no registry: status keeps working while MLflow is down."""
    if not settings.table:
        raise unavailable("workflow-state table not configured (TRADAI_TABLE_WORKFLOW_STATE)")
    return _component(request, "store",
                      lambda: TicketStore(aws_client("dynamodb"), settings.table or "",
                                          default_clock()))


# -- trading sessions --------------------------------------------------------------------------
def get_trading_settings() -> TradingSettings:
    return trading_settings()


def get_trading(request: Request,
                settings: Annotated[TradingSettings, Depends(get_trading_settings)],
                ) -> TradingSessions:
    """Without the registry: listing, showing and stopping work while MLflow is down; the
    start route passes the registry in."""
    clients = _component(request, "trading_aws", lambda: {
        name: aws_client(name) for name in ("dynamodb", "ecs", "secretsmanager")})
    return TradingSessions(clients["dynamodb"], clients["ecs"], clients["secretsmanager"],
                           None, default_clock(), settings)


OwnerDep = Annotated[Owner, Depends(get_owner)]
RegistryDep = Annotated[StrategyRegistry, Depends(get_registry)]
BacktestsDep = Annotated[BacktestService, Depends(get_backtests)]
StoreDep = Annotated[TicketStore, Depends(get_store)]
SettingsDep = Annotated[BackendSettings, Depends(get_settings)]
TradingDep = Annotated[TradingSessions, Depends(get_trading)]
