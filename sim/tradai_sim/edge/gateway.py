"""The API Gateway stand-in: ``/api/v1/*`` needs a valid Cognito JWT (401 with the reason),
each client is rate-limited (429 with Retry-After), ``/api/v1/*`` and ``/mlflow/*`` go to the
ALB.

Order as in pattern 1 of the architecture: JWT validation, then the rate limit (keyed on the
token's subject: an unauthenticated caller never consumes anyone's quota), then the route.

``/mlflow/*`` is MLflow's own, as the deployed HTTP API has it (``tradai_infra.edge``): no JWT
authorizer, the caller's ``Authorization`` (an MLflow basic login: an operator's, or the
reader's from ``mlflow-users``) goes to MLflow unchanged and MLflow judges it, so a browser
opening a run link gets MLflow's basic-auth challenge. Its rate-limit key is the caller's
address. It is read-only: the registry is written only through the platform API (role check,
audit record), so a method other than GET/HEAD/OPTIONS is refused with 403 unless its path is
one of MLflow's searches sent as POST (the spec's ``edge.mlflow_read_only_posts``).
``python -m tradai_sim.edge.gateway --config gateway.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
from pathlib import Path

import uvicorn
from pydantic import BaseModel
from starlette.requests import Request
from starlette.responses import Response

from tradai.authz import mlflow_write_refusal
from tradai.clock import Clock, default_clock
from tradai.services.backend_api.auth import CognitoConfig, JwksCache, TokenRejected, TokenVerifier
from tradai.services.backend_api.auth.jwks import http_fetcher
from tradai.services.backend_api.auth.verifier import KeysUnavailable, bearer_token
from tradai_sim.edge import proxy, upstream
from tradai_sim.edge.ratelimit import SlidingWindowLimiter

log = logging.getLogger("tradai_sim.edge.gateway")
ROUTED_PREFIXES = ("/api/v1", "/mlflow")
MLFLOW_PREFIX = "/mlflow"
READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


class GatewayConfig(BaseModel):
    host: str = "127.0.0.1"
    port: int
    upstream: str  # the ALB's main listener
    region: str
    user_pool_id: str
    client_id: str
    aws_endpoint: str | None = None
    rate_limit_requests: int = 100
    rate_limit_seconds: float = 300
    timeout_seconds: float = 30  # API Gateway HTTP API's integration timeout
    # MLflow paths (prefix stripped) whose POST only reads; empty: every POST is refused.
    mlflow_read_only_posts: list[str] = []


def routed(path: str) -> bool:
    return any(path == p or path.startswith(p + "/") for p in ROUTED_PREFIXES)


def is_mlflow(path: str) -> bool:
    return path == MLFLOW_PREFIX or path.startswith(MLFLOW_PREFIX + "/")


def mlflow_write(method: str, path: str, read_only_posts: frozenset[str]) -> str | None:
    """The MLflow path (``/mlflow`` stripped) when this request may write to MLflow, so it is
    refused; None when it only reads or is not an MLflow request.

    An exact match only: a path that differs in any way (trailing slash, ``..``, case) from a
    listed search is refused rather than guessed about.
    """
    if not is_mlflow(path):
        return None
    inner = path[len(MLFLOW_PREFIX):] or "/"
    if method.upper() in READ_METHODS:
        return None
    if method.upper() == "POST" and inner in read_only_posts:
        return None
    return inner


class Gateway:
    def __init__(self, config: GatewayConfig, clock: Clock | None = None,
                 verifier: TokenVerifier | None = None) -> None:
        self.config = config
        cognito = CognitoConfig(config.region, config.user_pool_id, config.client_id,
                                config.aws_endpoint)
        self.verifier = verifier or TokenVerifier(
            cognito.issuer, config.client_id, JwksCache(http_fetcher(cognito.jwks_url)))
        self.limiter = SlidingWindowLimiter(config.rate_limit_requests,
                                            config.rate_limit_seconds, clock or default_clock())
        self.client: upstream.Pool | None = None
        self.mlflow_read_only_posts = frozenset(config.mlflow_read_only_posts)
        self.app = proxy.lifespan_app(self.handle, self.startup, self.shutdown)

    async def startup(self) -> None:
        self.client = upstream.Pool(self.config.timeout_seconds)
        try:  # warm the key cache off the event loop; a failure is retried per request
            await asyncio.to_thread(self.verifier.keys.key, "")
        except Exception as exc:
            log.warning("JWKS not fetched at startup: %s", exc)

    async def shutdown(self) -> None:
        if self.client:
            await self.client.aclose()

    async def handle(self, request: Request) -> Response:
        if is_mlflow(request.url.path):
            # MLflow's basic auth, not the JWT authorizer; keyed on the connection's address
            # ($context.identity.sourceIp), never on a header the caller could set.
            key = f"ip:{request.client.host if request.client else 'unknown'}"
        else:
            try:
                identity = self.verifier.verify(
                    bearer_token(request.headers.get("authorization")))
            except TokenRejected as exc:
                return proxy.error(401, "Unauthorized", exc.reason, {
                    "WWW-Authenticate": f'Bearer error="invalid_token", '
                                        f'error_description="{exc.reason}"'})
            except KeysUnavailable as exc:
                return proxy.error(503, "Service Unavailable", str(exc))
            key = f"{identity.client_id}:{identity.sub}"
        decision = self.limiter.check(key)
        if not decision.allowed:
            return proxy.error(429, "Too Many Requests",
                               f"more than {self.config.rate_limit_requests} requests in "
                               f"{self.config.rate_limit_seconds:g} s",
                               {"Retry-After": str(decision.retry_after_wall)})
        if not routed(request.url.path):
            return proxy.error(404, "Not Found", f"no route for {request.url.path}")
        write = mlflow_write(request.method, request.url.path, self.mlflow_read_only_posts)
        if write is not None:
            log.info("refused %s %s from %s: MLflow is read-only through the gateway",
                     request.method, write, key)
            return proxy.error(403, mlflow_write_refusal(write),
                               f"{request.method} {write} writes to MLflow")
        return await self._forward(request)

    async def _forward(self, request: Request) -> Response:
        assert self.client is not None
        try:
            body = await proxy.read_body(request)
        except proxy.BodyTooLarge:
            return proxy.error(413, "Request Entity Too Large", "body over 10 MB")
        url = self.config.upstream.rstrip("/") + request.url.path
        try:
            answer = await proxy.send(self.client, request, url, body, "tradai-gateway")
            return await proxy.passthrough(answer)
        except upstream.UpstreamError as exc:
            return proxy.upstream_failure(exc, "the load balancer")


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(prog="tradai-gateway")
    ap.add_argument("--config", required=True, type=Path)
    args = ap.parse_args(argv)
    config = GatewayConfig.model_validate(json.loads(args.config.read_text()))
    logging.basicConfig(level=logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)  # one line per request otherwise
    gateway = Gateway(config)
    uvicorn.run(gateway.app, host=config.host, port=config.port, access_log=False,
                log_level="warning", lifespan="on")


if __name__ == "__main__":
    main()
