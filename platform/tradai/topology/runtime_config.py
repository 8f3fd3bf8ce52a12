"""One runtime configuration: the environment of every function, service container and task
definition, built once from the topology spec and what only the deployment knows.

The local bootstrap (``tradai_sim``) and the Pulumi program (``tradai_infra``) both call
:func:`runtime_config`; neither assembles variables of its own. What differs between them is
the :class:`Deployment` they pass: physical names, URLs and ids that exist only once resources
do (strings locally; Pulumi Outputs on AWS, which the builder places without reading, so the
program needs no ``apply`` here), who is told which resource (on both sides what its access in
the spec names, ``tradai.topology.access.told_by_access``: each side judges calls by the
policies built from that access), and a few values only one side has (the local harness's
exchange URL, MLflow's database on RDS).

Variable names are the ones the settings classes read (``tradai.*.settings``);
``tests/unit/test_runtime_config.py`` checks every variable a settings class requires against
what each component that imports it receives, on both sides.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Generic, Literal, TypeVar

from tradai.health.discovery import env_name as service_env_name
from tradai.topology.model import Topology

V = TypeVar("V")  # a value: str, or whatever the caller resolves later (pulumi.Output)

Kind = Literal["bucket", "queue", "table", "topic", "secret", "service"]
# (component, kind, logical name) -> is the component told this resource's name or URL?
Told = Callable[[str, Kind, str], bool]

FUNCTION, SERVICE, TASK = "function", "service", "task"
MLFLOW_AUTH_SECRET = "mlflow-basic-auth"  # tradai.registry.credentials.AUTH_SECRET
AUTH_SECRET_ENV = "TRADAI_MLFLOW_AUTH_SECRET"
USER_POOL_ENV, APP_CLIENT_ENV = "TRADAI_COGNITO_USER_POOL_ID", "TRADAI_COGNITO_CLIENT_ID"
# Lambda sets the region itself and refuses AWS_* keys it reserves:
# https://docs.aws.amazon.com/lambda/latest/dg/configuration-envvars.html#configuration-envvars-runtime
REGION_ENV = "AWS_DEFAULT_REGION"
TELEMETRY_ENV = "MLFLOW_DISABLE_TELEMETRY"
# "The total size of all environment variables doesn't exceed 4 KB" (same page).
LAMBDA_ENV_LIMIT_BYTES = 4096


def env_key(logical: str) -> str:
    """``backtest-queue.fifo`` -> ``BACKTEST_QUEUE``: a spec name as part of a variable."""
    return logical.replace(".fifo", "").replace("-", "_").upper()


def queue_env(logical: str) -> str:
    return f"TRADAI_QUEUE_{env_key(logical)}"


def table_env(logical: str) -> str:
    return f"TRADAI_TABLE_{env_key(logical)}"


def bucket_env(logical: str) -> str:
    return f"TRADAI_BUCKET_{env_key(logical)}"


def topic_env(logical: str) -> str:
    return f"TRADAI_{env_key(logical)}_TOPIC_ARN"


def secret_env(logical: str) -> str:
    return f"TRADAI_SECRET_{env_key(logical)}"


@dataclass(frozen=True)
class Deployment(Generic[V]):
    """What the spec cannot say: each resource's physical name, URL or ARN by logical name."""

    env: str
    region: str
    cluster: V
    queues: Mapping[str, V]  # URL
    tables: Mapping[str, V]  # name
    buckets: Mapping[str, V]  # name (AWS: unique per account)
    topics: Mapping[str, V]  # ARN
    secrets: Mapping[str, V]  # name
    services: Mapping[str, V]  # the URL its clients use (MLflow's under its static prefix)
    # JSON lists: the backtest workflow's ${PrivateSubnets} and ${StrategySecurityGroups}
    # (where trading sessions run too) and the route tables update-nat-routes repoints.
    private_subnets: V
    strategy_security_groups: V
    private_route_tables: V
    # The Cognito user pool and app client tokens come from (tradai.services.backend_api.auth:
    # without them the backend lists the account's pools by name, which needs a permission).
    user_pool_id: V | None = None
    app_client_id: V | None = None
    # The address services listen on: AWS 0.0.0.0 (the ALB reaches a task over its ENI);
    # locally unset, so loopback (tasks share one host).
    bind_host: str | None = None
    told: Told | None = None  # None: every component is told everything (one shared env file)
    # Values only this deployment has, for every component (the local harness: where "the
    # internet's" exchange is) or for one (MLflow's database). Spec-derived variables win over
    # ``shared``; ``own`` wins over everything.
    shared: Mapping[str, V] = field(default_factory=dict)
    own: Mapping[str, Mapping[str, V]] = field(default_factory=dict)


@dataclass(frozen=True)
class RuntimeConfig(Generic[V]):
    """Environment variables by spec name; ``kind`` says which section each name is from."""

    functions: dict[str, dict[str, V]]
    services: dict[str, dict[str, V]]
    tasks: dict[str, dict[str, V]]

    def of(self, component: str) -> dict[str, V]:
        for section in (self.functions, self.services, self.tasks):
            if component in section:
                return section[component]
        raise KeyError(f"no function, service or task definition named {component!r}")

    def kind(self, component: str) -> str:
        return (FUNCTION if component in self.functions else
                SERVICE if component in self.services else TASK)


def runtime_config(topo: Topology, deployment: Deployment[V]) -> RuntimeConfig[V]:
    return RuntimeConfig(
        functions={f.name: _environment(topo, deployment, f.name, FUNCTION)
                   for f in topo.lambdas},
        services={s.name: _environment(topo, deployment, s.name, SERVICE)
                  for s in topo.services},
        tasks={t.name: _environment(topo, deployment, t.name, TASK)
               for t in topo.task_definitions},
    )


def _environment(topo: Topology, d: Deployment[V], component: str,
                 kind: str) -> dict[str, V]:
    def told(what: Kind, logical: str) -> bool:
        return d.told is None or d.told(component, what, logical)

    spec: dict[str, V | str] = {
        # MLflow 3's client starts a telemetry thread that sets and unsets a variable in
        # os.environ while other threads read it: a strategy task's log-batch failed with
        # KeyError '_MLFLOW_TELEMETRY_SESSION_ID' (requests iterating the environment). It
        # also calls out to the internet, which private subnets should not need.
        TELEMETRY_ENV: "true",
        "TRADAI_ENV": d.env,
        "TRADAI_PROJECT": topo.project,
        "TRADAI_CLUSTER": d.cluster,
        "TRADAI_PRIVATE_SUBNETS": d.private_subnets,
        "TRADAI_STRATEGY_SECURITY_GROUPS": d.strategy_security_groups,
        "TRADAI_PRIVATE_ROUTE_TABLES": d.private_route_tables,
    }
    if kind != FUNCTION:
        spec[REGION_ENV] = d.region
    if d.user_pool_id is not None and d.app_client_id is not None:
        spec[USER_POOL_ENV], spec[APP_CLIENT_ENV] = d.user_pool_id, d.app_client_id
    sections: list[tuple[Kind, Mapping[str, V], Callable[[str], str]]] = [
        ("queue", d.queues, queue_env), ("table", d.tables, table_env),
        ("bucket", d.buckets, bucket_env), ("topic", d.topics, topic_env),
        ("secret", d.secrets, secret_env), ("service", d.services, service_env_name)]
    for what, values, name in sections:
        spec |= {name(logical): value for logical, value in values.items()
                 if told(what, logical)}
    # Which MLflow login it uses: a task definition's own (strategy code: not an admin), else
    # the admin login of whoever may read it.
    auth = (next(t.mlflow_secret for t in topo.task_definitions if t.name == component)
            if kind == TASK else MLFLOW_AUTH_SECRET)
    if auth in d.secrets and told("secret", auth):
        spec[AUTH_SECRET_ENV] = d.secrets[auth]
    if kind == SERVICE:
        spec["PORT"] = str(topo.service(component).port)
        if d.bind_host:
            spec["TRADAI_BIND_HOST"] = d.bind_host
    return {**d.shared, **spec, **d.own.get(component, {})}  # type: ignore[dict-item]


def lambda_env_size(env: Mapping[str, str]) -> int:
    """Bytes Lambda counts against its 4 KB: keys and values."""
    return sum(len(k.encode()) + len(v.encode()) for k, v in env.items())
