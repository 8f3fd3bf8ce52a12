"""The API Gateway stand-in: every route needs a valid Cognito JWT (401 with the reason), each
client is rate-limited (429 with Retry-After), ``/api/v1/*`` and ``/mlflow/*`` go to the ALB.

Order as in pattern 1 of the architecture: JWT validation, then the rate limit (keyed on the
token's subject: an unauthenticated caller never consumes anyone's quota), then the route.
``python -m tradai_sim.edge.gateway --config gateway.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import logging
from pathlib import Path

import httpx
import uvicorn
from pydantic import BaseModel
from starlette.requests import Request
from starlette.responses import Response

from tradai.clock import Clock, default_clock
from tradai.registry.credentials import AuthSecretUnavailable, resolve_basic_auth
from tradai.services.backend_api.auth import CognitoConfig, JwksCache, TokenRejected, TokenVerifier
from tradai.services.backend_api.auth.jwks import http_fetcher
from tradai.services.backend_api.auth.verifier import KeysUnavailable, bearer_token
from tradai_sim.edge import proxy
from tradai_sim.edge.ratelimit import SlidingWindowLimiter

log = logging.getLogger("tradai_sim.edge.gateway")
ROUTED_PREFIXES = ("/api/v1", "/mlflow")


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


def routed(path: str) -> bool:
    return any(path == p or path.startswith(p + "/") for p in ROUTED_PREFIXES)


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
        self.client: httpx.AsyncClient | None = None
        self.mlflow_authorization: str | None = None
        self.app = proxy.lifespan_app(self.handle, self.startup, self.shutdown)

    async def startup(self) -> None:
        self.client = proxy.client(self.config.timeout_seconds)
        # The caller's Authorization header carries the Cognito token the gateway checked;
        # MLflow wants its own basic auth there (from Secrets Manager), as an API Gateway
        # integration's header override would send.
        try:
            creds = await asyncio.to_thread(resolve_basic_auth)
        except AuthSecretUnavailable as exc:
            log.warning("MLflow basic auth unavailable: %s", exc)
            creds = None
        if creds is not None:
            token = base64.b64encode(f"{creds.username}:{creds.password}".encode()).decode()
            self.mlflow_authorization = f"Basic {token}"
        try:  # warm the key cache off the event loop; a failure is retried per request
            await asyncio.to_thread(self.verifier.keys.key, "")
        except Exception as exc:
            log.warning("JWKS not fetched at startup: %s", exc)

    async def shutdown(self) -> None:
        if self.client:
            await self.client.aclose()

    async def handle(self, request: Request) -> Response:
        try:
            identity = self.verifier.verify(bearer_token(request.headers.get("authorization")))
        except TokenRejected as exc:
            return proxy.error(401, "Unauthorized", exc.reason, {
                "WWW-Authenticate": f'Bearer error="invalid_token", '
                                    f'error_description="{exc.reason}"'})
        except KeysUnavailable as exc:
            return proxy.error(503, "Service Unavailable", str(exc))
        decision = self.limiter.check(f"{identity.client_id}:{identity.sub}")
        if not decision.allowed:
            return proxy.error(429, "Too Many Requests",
                               f"more than {self.config.rate_limit_requests} requests in "
                               f"{self.config.rate_limit_seconds:g} s",
                               {"Retry-After": str(decision.retry_after_wall)})
        if not routed(request.url.path):
            return proxy.error(404, "Not Found", f"no route for {request.url.path}")
        return await self._forward(request)

    async def _forward(self, request: Request) -> Response:
        assert self.client is not None
        try:
            body = await proxy.read_body(request)
        except proxy.BodyTooLarge:
            return proxy.error(413, "Request Entity Too Large", "body over 10 MB")
        url = self.config.upstream.rstrip("/") + request.url.path
        replace = None
        if request.url.path.startswith("/mlflow") and self.mlflow_authorization:
            replace = {"authorization": self.mlflow_authorization}
        try:
            upstream = await proxy.send(self.client, request, url, body, "tradai-gateway",
                                        replace)
        except httpx.HTTPError as exc:
            return proxy.upstream_failure(exc, "the load balancer")
        return proxy.passthrough(upstream)


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
