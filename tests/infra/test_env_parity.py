"""Every component gets, locally, the environment names the Pulumi program gives it on AWS:
the same builder (``tradai.topology.runtime_config``) and the same rule of who is told what
(``tradai.topology.flows.told``) on both sides. A name only the local cloud sets would let
code pass here and fail on AWS, where nothing sets it; the few differences are listed below,
each with its reason (and in the README's divergences)."""

from __future__ import annotations

import pytest

from tests.infra.conftest import Deployed
from tests.infra.test_runtime_config import _environments
from tests.local_runtime import local_runtime_config

# Set locally only.
SIM_ONLY = {
    # Where the exchange stand-in listens: on AWS the exchange is the internet (its public
    # URL, Freqtrade's and CCXT's default).
    "TRADAI_EXCHANGE_URL",
    # MLflow's SQLite store (the local default without PostgreSQL) and RDS's port: on AWS
    # MLflow reaches RDS on its default port.
    "TRADAI_MLFLOW_DATA_DIR", "TRADAI_MLFLOW_DB_PORT",
}
# Set on AWS only.
AWS_ONLY = {
    # Services listen on every interface (the ALB and Cloud Map reach their ENI); locally on
    # the loopback, the default.
    "TRADAI_BIND_HOST",
    # MLflow under the API's /mlflow prefix and its Host allow-list: locally the ALB
    # stand-in strips the prefix and the host is 127.0.0.1.
    "TRADAI_MLFLOW_STATIC_PREFIX", "MLFLOW_SERVER_ALLOWED_HOSTS",
    # The drift detector previews the deployed stack (Pulumi CLI): no stack locally.
    "TRADAI_PULUMI_STACK", "TRADAI_PULUMI_WORK_DIR",
    # MLflow's database host on AWS is RDS's endpoint; locally without PostgreSQL there is none
    # (with it, the host is set: tradai_sim.cloud.rds).
    "TRADAI_MLFLOW_DB_HOST", "TRADAI_MLFLOW_DB_NAME",
}


@pytest.fixture(scope="module")
def local(tmp_path_factory: pytest.TempPathFactory, deployed: Deployed):
    with local_runtime_config(tmp_path_factory.mktemp("parity"), deployed.topo) as config:
        yield config


def test_each_component_gets_the_names_aws_gives_it(deployed: Deployed, local) -> None:
    aws = _environments(deployed)
    assert set(aws) == {c.name for c in (*deployed.lambdas, *deployed.topo.services,
                                         *deployed.topo.task_definitions)}
    differences = {}
    for component, deployed_env in aws.items():
        here, there = set(local.of(component)), set(deployed_env)
        extra, missing = here - there - SIM_ONLY, there - here - AWS_ONLY
        if extra or missing:
            differences[component] = {"local only": sorted(extra), "aws only": sorted(missing)}
    assert differences == {}


def test_the_parity_check_sees_a_name_told_to_everyone(deployed: Deployed, local) -> None:
    """What this check exists for: locally every component used to be told every service's
    URL and the MLflow admin login's secret, which AWS tells only MLflow's clients."""
    aws = _environments(deployed)
    consumer_here, consumer_there = local.of("backtest-consumer"), aws["backtest-consumer"]
    assert "TRADAI_MLFLOW_URL" not in consumer_there
    assert "TRADAI_MLFLOW_URL" not in consumer_here
    assert "TRADAI_MLFLOW_AUTH_SECRET" not in consumer_here
    # MLflow's clients are told it on both sides.
    for client in ("validate-strategy", "backend-api", "strategy"):
        assert "TRADAI_MLFLOW_URL" in local.of(client) and "TRADAI_MLFLOW_URL" in aws[client]
