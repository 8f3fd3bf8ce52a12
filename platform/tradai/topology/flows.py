"""The communication matrix: which component may open a connection to which service, and so
who is told a service's URL. One table for both sides: the Pulumi program turns it into
security group rules (``tradai_infra.network``), and the runtime configuration of both the
local cloud and AWS tells a component MLflow's URL only if MLflow admits it
(``told``), so a component that works locally cannot lean on a URL it lacks on AWS.
"""

from __future__ import annotations

from tradai.topology.access import access_of, told_by_access
from tradai.topology.model import Topology
from tradai.topology.runtime_config import MLFLOW_AUTH_SECRET, Told

MLFLOW = "mlflow"
# Callers that are not services: the security groups they own.
ALB, VPC_LINK, LAMBDAS, TASKS, DATABASE, NAT = "alb", "vpc-link", "lambdas", "tasks", "rds", "nat"
# The functions that call MLflow carry this group as well as LAMBDAS, so MLflow admits them and
# no other function.
MLFLOW_CLIENTS = "mlflow-clients"
# The health-check function carries this group as well: every service admits it on its port
# (where /health is served), and no other function gains a path to backend-api or
# strategy-service.
HEALTH_PROBES = "health-probes"
# The functions that probe every service's /health through Cloud Map, MLflow's included.
PROBES = ("health-check",)

# Service-to-service flows of the communication matrix (section 4): (caller, callee service).
# Callers are a service name or one of the groups above; the port is the callee's spec port.
PEER_FLOWS: tuple[tuple[str, str], ...] = (
    ("backend-api", MLFLOW),
    ("backend-api", "data-collection"),
    ("backend-api", "strategy-service"),
    ("strategy-service", MLFLOW),
    (TASKS, MLFLOW),
    (MLFLOW_CLIENTS, MLFLOW),
    (LAMBDAS, "data-collection"),
)
# Who may reach the MLflow backend store.
DATABASE_CLIENTS: tuple[str, ...] = (MLFLOW,)


def mlflow_client_functions(topo: Topology) -> list[str]:
    """The functions that call MLflow: those holding an MLflow login, and the probes."""
    return [f.name for f in topo.lambdas
            if f.name in PROBES or MLFLOW_AUTH_SECRET in access_of(topo, f.name).secrets]


def mlflow_client_containers(topo: Topology) -> list[str]:
    """The services and task definitions MLflow's security group admits (``PEER_FLOWS``)."""
    callers = {c for c, target in PEER_FLOWS if target == MLFLOW}
    return [s.name for s in topo.services if s.name in callers] + (
        [t.name for t in topo.task_definitions] if TASKS in callers else [])


def told(topo: Topology) -> Told:
    """Resources as the spec's access says; MLflow's URL to the components it admits, every
    other service's URL to everyone (the network, not the URL, decides who gets through)."""
    clients = {*mlflow_client_functions(topo), *mlflow_client_containers(topo)}
    return told_by_access(topo, services=lambda component, service:
                          service != MLFLOW or component in clients)
