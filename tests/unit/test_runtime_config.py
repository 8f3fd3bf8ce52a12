"""The one runtime configuration (``tradai.topology.runtime_config``), local side: every
variable a settings class requires reaches each function, service and task that reads it.

The Pulumi side of the same check is ``tests/infra/test_runtime_config.py``; which component
reads which settings comes from the code's imports (``tests/settings_reads.py``).
"""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Iterator
from pathlib import Path

import pytest
from pydantic_settings import BaseSettings

from tests import settings_reads as reads
from tests.local_runtime import local_runtime_config
from tradai.topology import default_topology
from tradai.topology.model import Topology
from tradai.topology.runtime_config import (
    LAMBDA_ENV_LIMIT_BYTES,
    Deployment,
    RuntimeConfig,
    lambda_env_size,
    runtime_config,
)


@pytest.fixture(scope="module")
def topo() -> Topology:
    return default_topology()


@pytest.fixture(scope="module")
def local_config(tmp_path_factory: pytest.TempPathFactory,
                 topo: Topology) -> Iterator[RuntimeConfig[str]]:
    with local_runtime_config(tmp_path_factory.mktemp("s"), topo) as config:
        yield config


def test_local_components_receive_every_variable_their_settings_require(
        topo: Topology, local_config: RuntimeConfig[str]):
    environments = {c.name: local_config.of(c.name) for c in reads.components(topo)}
    assert reads.gaps(topo, environments) == []
    # As on AWS (tests/infra/test_runtime_config.py): within Lambda's 4 KB, no reserved key.
    for name, env in local_config.functions.items():
        assert lambda_env_size(env) <= LAMBDA_ENV_LIMIT_BYTES, name
        assert "AWS_DEFAULT_REGION" not in env, name
    # The pool and client the backend validates tokens against, as on AWS.
    backend = local_config.services["backend-api"]
    assert backend["TRADAI_COGNITO_USER_POOL_ID"] and backend["TRADAI_COGNITO_CLIENT_ID"]


def test_the_readers_come_from_the_code(topo: Topology):
    """Each settings class the platform defines is read by some component (else this check
    could not see it), and the import walk finds what the code really reads."""
    defined = set()
    for path in sorted(Path(reads.PLATFORM, "tradai").rglob("*.py")):
        if "BaseSettings" not in path.read_text():
            continue
        module = ".".join(path.relative_to(reads.PLATFORM).with_suffix("").parts)
        for _, cls in inspect.getmembers(importlib.import_module(module), inspect.isclass):
            if issubclass(cls, BaseSettings) and cls is not BaseSettings \
                    and cls.__module__ == module:
                defined.add(f"{module}.{cls.__qualname__}")
    read: dict[str, set[str]] = {}
    for c in reads.components(topo):
        entry = reads.entry_module(c.entry)
        classes = reads.settings_classes(reads.closure(entry)) if entry else []
        read[c.name] = {f"{k.__module__}.{k.__qualname__}" for k in classes}
    assert defined == set().union(*read.values())
    assert "tradai.services.backend_api.settings.BackendSettings" in read["backend-api"]
    assert "tradai.registry.settings.RegistrySettings" in read["validate-strategy"]
    assert "tradai.strategy_container.trading.settings.TradingSettings" in read["strategy"]
    assert "tradai.registry.settings.RegistrySettings" not in read["backtest-consumer"]
    # update-nat-routes reads its route tables straight from os.environ.
    assert any("TRADAI_PRIVATE_ROUTE_TABLES" in r.names
               for r in reads.requirements(next(c for c in reads.components(topo)
                                                if c.name == "update-nat-routes")))


def _deployment(**changes: object) -> Deployment[str]:
    base: dict[str, object] = dict(
        env="t", region="eu-central-1", cluster="c", queues={"backtest-queue.fifo": "q"},
        tables={"workflow-state": "wf", "registry-audit": "audit"},
        buckets={"configs": "cfg"}, topics={"alerts": "arn:alerts"},
        secrets={"mlflow-basic-auth": "admin", "mlflow-runner": "runner"},
        services={"mlflow": "http://m", "backend-api": "http://b"},
        private_subnets='["s"]', strategy_security_groups='["g"]',
        private_route_tables='["r"]')
    base |= changes
    return Deployment(**base)  # type: ignore[arg-type]


def test_the_check_names_the_component_and_variable_of_a_gap(topo: Topology):
    """A deployment without the backend's queue fails the check, naming both."""
    config = runtime_config(topo, _deployment(queues={}))
    environments = {c.name: config.of(c.name) for c in reads.components(topo)}
    found = reads.gaps(topo, environments)
    assert ("service backend-api: TRADAI_QUEUE_BACKTEST_QUEUE "
            "(tradai.services.backend_api.settings.BackendSettings.queue_url)") in found


def test_builder_tells_only_what_told_allows_and_own_wins(topo: Topology):
    config = runtime_config(topo, _deployment(
        told=lambda component, kind, logical: not (kind == "service" and logical == "mlflow"
                                                   and component == "backtest-consumer"),
        shared={"TRADAI_EXCHANGE_URL": "x", "TRADAI_CLUSTER": "shared-loses"},
        own={"mlflow": {"TRADAI_MLFLOW_DB_HOST": "db", "PORT": "1"}}, bind_host="0.0.0.0"))
    consumer = config.functions["backtest-consumer"]
    assert "TRADAI_MLFLOW_URL" not in consumer
    assert config.functions["validate-strategy"]["TRADAI_MLFLOW_URL"] == "http://m"
    assert consumer["TRADAI_EXCHANGE_URL"] == "x" and consumer["TRADAI_CLUSTER"] == "c"
    # Lambda reserves AWS_DEFAULT_REGION; containers are told it.
    assert "AWS_DEFAULT_REGION" not in consumer
    assert config.services["backend-api"]["AWS_DEFAULT_REGION"] == "eu-central-1"
    assert config.services["backend-api"]["PORT"] == "8000"
    assert config.services["backend-api"]["TRADAI_BIND_HOST"] == "0.0.0.0"
    assert config.services["mlflow"]["PORT"] == "1"
    assert config.services["mlflow"]["TRADAI_MLFLOW_DB_HOST"] == "db"
    # A task logs in to MLflow with its own login (strategy code: not the admin).
    assert config.tasks["strategy"]["TRADAI_MLFLOW_AUTH_SECRET"] == "runner"
    assert config.services["backend-api"]["TRADAI_MLFLOW_AUTH_SECRET"] == "admin"
    assert config.functions["orphan-scanner"]["TRADAI_ALERTS_TOPIC_ARN"] == "arn:alerts"


def test_every_component_runs_with_mlflow_telemetry_off(local_config: RuntimeConfig[str]):
    """MLflow 3's telemetry thread sets and unsets a variable in os.environ while requests
    iterates it: a strategy task's log-batch failed with KeyError '_MLFLOW_TELEMETRY_SESSION_ID'
    in the 1,000-backlog benchmark. Every function, service and task is told to turn it off
    (MLFLOW_DISABLE_TELEMETRY, mlflow.environment_variables)."""
    envs = [*local_config.functions.values(), *local_config.services.values(),
            *local_config.tasks.values()]
    assert envs and all(e.get("MLFLOW_DISABLE_TELEMETRY") == "true" for e in envs)


def test_local_components_are_told_only_what_their_access_names(
        topo: Topology, local_config: RuntimeConfig[str]):
    """As on AWS (infra/tradai_infra/runtime_env.py): a function, service or task learns a
    bucket's, table's, queue's, topic's or secret's name only if its access in the spec names
    it; the local cloud judges its calls by that access, so anything more would only turn a
    slip into an AccessDenied at run time."""
    from tradai.topology.access import access_of, named
    from tradai.topology.runtime_config import (
        bucket_env,
        queue_env,
        secret_env,
        table_env,
        topic_env,
    )

    kinds = {"bucket": (bucket_env, topo.buckets), "table": (table_env, topo.tables),
             "queue": (queue_env, topo.queues), "topic": (topic_env, topo.topics),
             "secret": (secret_env, topo.secrets)}
    for component in [c.name for c in (*topo.lambdas, *topo.services, *topo.task_definitions)]:
        env = local_config.of(component)
        access = access_of(topo, component)
        for kind, (variable, entries) in kinds.items():
            told = {e.name for e in entries if variable(e.name) in env}
            assert told == named(access, kind), (component, kind)  # type: ignore[arg-type]
    # The spot checks: the data service is not told the workflow table, the backend is.
    assert "TRADAI_TABLE_WORKFLOW_STATE" not in local_config.services["data-collection"]
    assert local_config.services["backend-api"]["TRADAI_TABLE_WORKFLOW_STATE"]
