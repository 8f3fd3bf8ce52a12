"""FastAPI dependencies: settings, the caller's identity, the registry, the backtest service,
the trading sessions.

Clients are built on first use and kept on ``app.state`` (a failed build is retried on the
next request), so the service starts even while a dependency is still coming up, and tests
replace any of them with ``app.dependency_overrides``.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Annotated, Any, TypeVar

from fastapi import Depends, HTTPException, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from tradai.authz import READ, Authorizer, Forbidden, Principal
from tradai.backtests.cancel import Canceller
from tradai.backtests.queue import BacktestQueue
from tradai.backtests.service import BacktestService, Owner, SubmissionPolicy
from tradai.backtests.store import TicketStore
from tradai.backtests.validation import StrategyRegistry
from tradai.clock import default_clock
from tradai.registry.audit import AuditLog
from tradai.registry.promotion import Promotion
from tradai.services.backend_api.auth import (
    JwksCache,
    TokenRejected,
    TokenVerifier,
    discover_cognito,
)
from tradai.services.backend_api.auth.jwks import http_fetcher
from tradai.services.backend_api.auth.verifier import KeysUnavailable, bearer_token
from tradai.services.backend_api.errors import RETRY_AFTER_SECONDS
from tradai.services.backend_api.registry import CachedRegistry, mlflow_registry
from tradai.services.backend_api.settings import BackendSettings, backend_settings
from tradai.settings import aws_client
from tradai.trading.sessions import TradingSessions
from tradai.trading.settings import TradingSettings, trading_settings
from tradai.workflows.cleanup import TaskCleaner
from tradai.workflows.status import JobStatusStore

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


log = logging.getLogger("tradai.backend_api")


def unavailable(reason: str, cause: BaseException | str | None = None) -> HTTPException:
    """503 with a short reason a user can act on and a Retry-After; what failed inside (an
    internal URL, an exception, a setting's name) goes to the service's log only."""
    if cause is not None:
        what = cause if isinstance(cause, str) else f"{type(cause).__name__}: {cause}"
        log.warning("answering 503 (%s): %s", reason, what)
    return HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, detail=reason,
                         headers={"Retry-After": str(RETRY_AFTER_SECONDS)})


# -- identity --------------------------------------------------------------------------------
def get_verifier(request: Request) -> TokenVerifier:
    def build() -> TokenVerifier:
        try:
            cfg = discover_cognito()
        except Exception as exc:
            raise unavailable("authentication is not configured yet", exc) from exc
        return TokenVerifier(cfg.issuer, cfg.client_id, JwksCache(http_fetcher(cfg.jwks_url)))
    return _component(request, "verifier", build)


def get_authorizer(request: Request) -> Authorizer:
    return _component(request, "authorizer", Authorizer)


def get_principal(
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
    verifier: Annotated[TokenVerifier, Depends(get_verifier)],
    authorizer: Annotated[Authorizer, Depends(get_authorizer)],
) -> Principal:
    """The caller, from their own token (401 with the reason otherwise) and its groups."""
    header = f"{credentials.scheme} {credentials.credentials}" if credentials else None
    try:
        identity = verifier.verify(bearer_token(header))
    except TokenRejected as exc:
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, detail=exc.reason, headers={
            "WWW-Authenticate": f'Bearer error="invalid_token", error_description='
                                f'"{exc.reason}"'}) from None
    except KeysUnavailable as exc:
        raise unavailable("the sign-in keys cannot be fetched", exc) from None
    return authorizer.principal(identity.sub, identity.username, identity.claims)


PrincipalDep = Annotated[Principal, Depends(get_principal)]
AuthorizerDep = Annotated[Authorizer, Depends(get_authorizer)]


def forbidden(exc: Forbidden) -> HTTPException:
    return HTTPException(status.HTTP_403_FORBIDDEN, detail=exc.reason)


def check(authorizer: Authorizer, principal: Principal, permission: str, action: str) -> None:
    """403 naming the role needed, for checks that depend on the request (a session's mode)."""
    try:
        authorizer.require(principal, permission, action)
    except Forbidden as exc:
        raise forbidden(exc) from None


def allowed(permission: str, action: str) -> Callable[..., Owner]:
    """A route dependency: the caller as an Owner, if their roles grant ``permission``."""
    def dependency(principal: PrincipalDep, authorizer: AuthorizerDep) -> Owner:
        check(authorizer, principal, permission, action)
        return Owner(id=principal.id, name=principal.name)
    return dependency


get_owner = allowed(READ, "reading")


# -- registry and backtests --------------------------------------------------------------------
def get_registry(request: Request,
                 settings: Annotated[BackendSettings, Depends(get_settings)]) -> StrategyRegistry:
    if not settings.mlflow_url:
        raise unavailable("strategy registry is not configured", "TRADAI_MLFLOW_URL unset")

    def build() -> StrategyRegistry:
        try:
            inner = mlflow_registry(settings.mlflow_url or "")
        except Exception as exc:
            raise unavailable("strategy registry unavailable", exc) from exc
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
        raise unavailable("backtest records are not configured",
                          "TRADAI_TABLE_WORKFLOW_STATE unset")
    return _component(request, "store",
                      lambda: TicketStore(aws_client("dynamodb"), settings.table or "",
                                          default_clock()))


def get_trading_settings() -> TradingSettings:
    return trading_settings()


def get_canceller(request: Request, settings: Annotated[BackendSettings, Depends(get_settings)],
                  store: Annotated[TicketStore, Depends(get_store)],
                  where: Annotated[TradingSettings, Depends(get_trading_settings)],
                  ) -> Canceller:
    """Cancelling stops the job's execution (its ARN is on the ticket) and its strategy task
    (in the cluster and family trading sessions use too)."""
    clients = _component(request, "cancel_aws", lambda: {
        name: aws_client(name) for name in ("dynamodb", "stepfunctions", "ecs")})
    statuses = JobStatusStore(clients["dynamodb"], store.table, default_clock(),
                              settings.ttl_days)
    cleaner = TaskCleaner(clients["ecs"], where.cluster, where.strategy_family)
    return Canceller(store, statuses, clients["stepfunctions"], cleaner)


# -- registry writes ---------------------------------------------------------------------------
def get_promotion(request: Request, settings: Annotated[BackendSettings, Depends(get_settings)],
                  registry: Annotated[StrategyRegistry, Depends(get_registry)]) -> Promotion:
    if not settings.audit_table:
        raise unavailable("registry audit table not configured (TRADAI_TABLE_REGISTRY_AUDIT): "
                          "the registry is not written without an audit record")
    if not hasattr(registry, "set_alias"):
        raise unavailable("this registry cannot be written")
    ddb = _component(request, "audit_ddb", lambda: aws_client("dynamodb"))
    return Promotion(registry, AuditLog(ddb, settings.audit_table, default_clock()))  # type: ignore[arg-type]


PromotionDep = Annotated[Promotion, Depends(get_promotion)]


# -- trading sessions --------------------------------------------------------------------------
def get_trading(request: Request,
                settings: Annotated[TradingSettings, Depends(get_trading_settings)],
                ) -> TradingSessions:
    """Without the registry: listing, showing and stopping work while MLflow is down; the
    start route passes the registry in."""
    clients = _component(request, "trading_aws", lambda: {
        name: aws_client(name) for name in ("dynamodb", "ecs", "secretsmanager")})
    return TradingSessions(clients["dynamodb"], clients["ecs"], clients["secretsmanager"],
                           None, default_clock(), settings)


OwnerDep = Annotated[Owner, Depends(get_owner)]  # any role: read
RegistryDep = Annotated[StrategyRegistry, Depends(get_registry)]
BacktestsDep = Annotated[BacktestService, Depends(get_backtests)]
StoreDep = Annotated[TicketStore, Depends(get_store)]
CancellerDep = Annotated[Canceller, Depends(get_canceller)]
SettingsDep = Annotated[BackendSettings, Depends(get_settings)]
TradingDep = Annotated[TradingSessions, Depends(get_trading)]
