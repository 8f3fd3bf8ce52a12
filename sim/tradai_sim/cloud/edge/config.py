"""What the edge processes are told: ports reserved before the bootstrap (so task definitions
can carry the service-discovery URLs), then the Cognito ids the bootstrap created."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

from tradai_sim import ports
from tradai_sim.cloud.context import CloudContext

# Service-discovery variables of the task environment (the Cloud Map names in AWS).
DISCOVERY_ENV = {"backend-api": "TRADAI_BACKEND_URL", "mlflow": "TRADAI_MLFLOW_URL",
                 "data-collection": "TRADAI_DATA_COLLECTION_URL",
                 "strategy-service": "TRADAI_STRATEGY_SERVICE_URL"}
RATE_LIMIT_ENV = "TRADAI_SIM_GATEWAY_RATE_LIMIT"  # "requests/seconds", overrides the spec
HOST = "127.0.0.1"


@dataclass(frozen=True)
class EdgePorts:
    gateway: int
    alb: int
    discovery: dict[str, int]

    @classmethod
    def reserve(cls, services: list[str]) -> EdgePorts:
        return cls(ports.free_port(HOST), ports.free_port(HOST),
                   {s: ports.free_port(HOST) for s in services})

    def url(self, port: int) -> str:
        return f"http://{HOST}:{port}"


def discovery_env(ports: EdgePorts) -> dict[str, str]:
    return {DISCOVERY_ENV.get(s, f"TRADAI_{s.replace('-', '_').upper()}_URL"): ports.url(p)
            for s, p in ports.discovery.items()}


def rate_limit(ctx: CloudContext) -> tuple[int, float]:
    override = os.environ.get(RATE_LIMIT_ENV)
    if override:
        requests, _, seconds = override.partition("/")
        return int(requests), float(seconds)
    spec = ctx.topology.edge.rate_limit
    return spec.requests, float(spec.per_seconds)


def alb_config(ctx: CloudContext, ports: EdgePorts) -> dict[str, Any]:
    services = ctx.topology.services
    lb = {r.path.rstrip("/*"): r.service for r in ctx.topology.edge.routes
          if r.target == "service" and r.service}
    return {
        "host": HOST, "main_port": ports.alb, "discovery_ports": ports.discovery,
        "cluster": ctx.name(ctx.topology.cluster), "region": ctx.region,
        "aws_endpoint": ctx.endpoint,
        "services": {s.name: {"ecs_service": ctx.name(s.name), "health_path": s.health_path}
                     for s in services},
        "rules": [{"prefix": prefix, "service": svc, "strip_prefix": prefix == "/mlflow"}
                  for prefix, svc in lb.items()],
    }


def gateway_config(ctx: CloudContext, ports: EdgePorts) -> dict[str, Any]:
    cognito = ctx.resources["cognito"]
    requests, seconds = rate_limit(ctx)
    return {
        "host": HOST, "port": ports.gateway, "upstream": ports.url(ports.alb),
        "region": ctx.region, "user_pool_id": cognito["user_pool_id"],
        "client_id": cognito["client_id"], "aws_endpoint": ctx.endpoint,
        "rate_limit_requests": requests, "rate_limit_seconds": seconds,
        # MLflow through the gateway: its searches sent as POST pass, other writes get 403;
        # the caller's own MLflow login goes through (MLflow's basic auth, as on AWS).
        "mlflow_read_only_posts": list(ctx.topology.edge.mlflow_read_only_posts),
    }
