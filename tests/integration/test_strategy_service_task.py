"""The on-demand ``strategy-service-task`` in the stack: an ECS RunTask of its task definition
(the local cloud starts ``python -m tradai.services.strategy_service.task`` as a process, with
the environment the one runtime configuration gives it), overridden with its mode and version
as a caller would.

``validate`` on the seeded ``EmaCrossover`` champion: exit 0 and the verdict on the MLflow
version, its backtest headline EQUAL to Freqtrade's own backtest on the same candles and
config; ``prepare-config``: exit 0 and the prepared config in the configs bucket, named on the
version; an unknown version: exit 2, nothing recorded.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.integration.cloud import wait_for
from tests.integration.test_container_backtest import (
    PAIRS,
    Stack,
    exit_code,
    freqtrade_directly,
)
from tests.integration.test_container_backtest import stack as stack  # the fixture
from tradai.backtests.results import headline
from tradai.registry.config_store import split_s3_path

pytestmark = pytest.mark.integration

TASK = "strategy-service-task"
TIMERANGE = "20260112-20260119"  # a week inside the candles the fixture writes


def run_task(where: Stack, env: dict[str, str], timeout: float = 150) -> dict[str, Any]:
    ecs = where.cloud.client("ecs")
    env = {"TRADAI_ARCTICDB_LIBRARY": where.library, **env}
    task = ecs.run_task(
        cluster=where.cluster, taskDefinition=where.cloud.name(TASK), launchType="FARGATE",
        networkConfiguration=where.network,
        overrides={"containerOverrides": [{"name": TASK, "environment": [
            {"name": k, "value": v} for k, v in env.items()]}]})["tasks"][0]

    def stopped() -> dict[str, Any] | None:
        t = ecs.describe_tasks(cluster=where.cluster, tasks=[task["taskArn"]])["tasks"][0]
        return t if t["lastStatus"] == "STOPPED" else None

    return dict(wait_for(stopped, timeout=timeout, interval=0.5))


def test_validate_and_prepare_config_as_ecs_tasks(
        stack: Stack, tmp_path: Path) -> None:
    champion = stack.mlflow.get_model_version_by_alias("EmaCrossover", "champion")
    task = run_task(stack, {"TRADAI_MODE": "validate", "TRADAI_STRATEGY": "EmaCrossover",
                            "TRADAI_STRATEGY_VERSION": "champion",
                            "TRADAI_TIMERANGE": TIMERANGE})
    assert exit_code(task) == 0, stack.task_log(task)
    tags = stack.mlflow.get_model_version("EmaCrossover", champion.version).tags
    assert tags["validation_status"] == "valid", tags
    assert tags["validation_checks"] == "config,class,backtest"
    direct = freqtrade_directly(stack.store, stack.exchange_url, stack.egress_proxy, tmp_path,
                                "EmaCrossover", PAIRS, TIMERANGE)
    assert json.loads(tags["validation_backtest"]) == {"timerange": TIMERANGE,
                                                       **headline(direct)}
    assert headline(direct)["total_trades"] > 0  # the comparison compares something

    task = run_task(stack, {"TRADAI_MODE": "prepare-config", "TRADAI_STRATEGY": "EmaCrossover",
                            "TRADAI_STRATEGY_VERSION": champion.version,
                            "TRADAI_CONFIG_OVERRIDES": '{"stake_amount": 25}'})
    assert exit_code(task) == 0, stack.task_log(task)
    path = stack.mlflow.get_model_version("EmaCrossover", champion.version).tags[
        "prepared_config_s3_path"]
    bucket, key = split_s3_path(path)
    assert bucket == stack.cloud.name("configs")
    prepared = json.loads(stack.cloud.client("s3").get_object(
        Bucket=bucket, Key=key)["Body"].read())
    assert prepared["stake_amount"] == 25 and prepared["strategy"] == "EmaCrossover"

    task = run_task(stack, {"TRADAI_MODE": "validate", "TRADAI_STRATEGY": "EmaCrossover",
                            "TRADAI_STRATEGY_VERSION": "999"})
    assert exit_code(task) == 2, stack.task_log(task)
    assert "has no version 999" in stack.task_log(task)
