"""How MLflow is reached on AWS: its own path on the ALB, its Host allow-list, its callers.

MLflow is served under the spec's route prefix (``/mlflow/*`` -> ``--static-prefix /mlflow``),
so the ALB forwards ``/mlflow/...`` to it unchanged and every MLflow URL, inside the VPC too,
carries the prefix. MLflow checks its own basic auth; the API's routes to it carry no JWT
authorizer (edge.py), since its clients send MLflow logins, not Cognito tokens.

MLflow 3's security middleware answers 403 to a Host header outside its allow-list, which by
default is localhost and private IPs only, so neither its Cloud Map name nor the ALB's DNS name
would pass (``MLFLOW_SERVER_ALLOWED_HOSTS``, ``mlflow/server/security_utils.py``; health
endpoints are exempt, so the ALB's health check passes either way).
"""

from __future__ import annotations

import pulumi

from tradai.topology import Topology
from tradai.topology.flows import MLFLOW, mlflow_client_functions
from tradai_infra.context import Context
from tradai_infra.errors import SpecMappingError

SERVICE = MLFLOW
ALLOWED_HOSTS_ENV = "MLFLOW_SERVER_ALLOWED_HOSTS"
STATIC_PREFIX_ENV = "TRADAI_MLFLOW_STATIC_PREFIX"


def static_prefix(topo: Topology) -> str:
    """``/mlflow`` from the spec's route ``/mlflow/*`` to the MLflow service."""
    routes = [r for r in topo.edge.routes if r.target == "service" and r.service == SERVICE]
    if len(routes) != 1 or not routes[0].path.endswith("/*") or routes[0].path == "/*":
        raise SpecMappingError(
            f"edge.routes: MLflow needs exactly one route of its own under a prefix "
            f"(like /mlflow/*), got {[r.path for r in routes]}")
    return routes[0].path.removesuffix("/*")


def cloud_map_host(ctx: Context) -> str:
    return f"{SERVICE}.{ctx.topo.project}-{ctx.env}.local:{ctx.topo.service(SERVICE).port}"


def mlflow_url(ctx: Context) -> str:
    """MLflow's tracking URL inside the VPC (Cloud Map name, static prefix)."""
    return f"http://{cloud_map_host(ctx)}{static_prefix(ctx.topo)}"


def health_path(topo: Topology) -> str:
    """MLflow registers its health route under the static prefix too."""
    return static_prefix(topo) + topo.service(SERVICE).health_path


def host_patterns(ctx: Context, alb_dns: str) -> str:
    """Cloud Map name (the platform's clients), the ALB's DNS name and the API's host (the
    route through API Gateway), loopback (the users sync inside the task)."""
    return ",".join([cloud_map_host(ctx), cloud_map_host(ctx).rpartition(":")[0],
                     alb_dns, f"{alb_dns}:*", f"*.execute-api.{ctx.region}.amazonaws.com",
                     "127.0.0.1:*", "localhost:*"])


def allowed_hosts(ctx: Context, alb_dns: pulumi.Input[str]) -> pulumi.Output[str]:
    return pulumi.Output.from_input(alb_dns).apply(lambda dns: host_patterns(ctx, dns))


def check_mlflow(topo: Topology) -> None:
    """Before any resource: MLflow has its route, and its callers run in the VPC."""
    static_prefix(topo)
    outside = [f.name for f in topo.lambdas if f.name in mlflow_client_functions(topo)
               and not f.in_vpc]
    if outside:
        raise SpecMappingError(f"lambdas {outside}: they call MLflow, which is reachable only "
                               "inside the VPC; set in_vpc: true")
