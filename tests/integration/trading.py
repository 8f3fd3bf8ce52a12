"""Helpers for trading-session tests: a strategy that trades at once, sessions as ECS services
(the calls the platform makes), the session item and the session's task."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

from tests.integration.cloud import RunningCloud
from tradai.trading.records import session_id

# Enters on every candle and never exits by itself: an open trade within one loop.
PROBE_SOURCE = '''
from freqtrade.strategy import IStrategy
from pandas import DataFrame


class TradingProbe(IStrategy):
    INTERFACE_VERSION = 3
    timeframe = "5m"
    minimal_roi = {"0": 100}
    stoploss = -0.99
    startup_candle_count = 10
    VARIANT = "%(variant)s"

    def populate_indicators(self, dataframe: DataFrame, metadata: dict) -> DataFrame:
        return dataframe

    def populate_entry_trend(self, dataframe: DataFrame, metadata: dict) -> DataFrame:
        dataframe["enter_long"] = 1
        return dataframe

    def populate_exit_trend(self, dataframe: DataFrame, metadata: dict) -> DataFrame:
        dataframe["exit_long"] = 0
        return dataframe
'''
PROBE_CONFIG = {"strategy": "TradingProbe", "timeframe": "5m", "max_open_trades": 1,
                "stake_currency": "USDT", "stake_amount": 100,
                "exchange": {"name": "binance", "pair_whitelist": ["BTC/USDT"],
                             "pair_blacklist": []}}


def adapter(cloud: RunningCloud) -> Any:
    from tradai.registry.adapter import MLflowAdapter
    from tradai.registry.config_store import ConfigStore

    url = _task_env(cloud)["TRADAI_MLFLOW_URL"]  # what the services use
    return MLflowAdapter(url, ConfigStore(cloud.client("s3"), cloud.name("configs")))


def register_probe(cloud: RunningCloud, name: str | None = None, variant: str = "v1",
                   alias: str | None = "champion") -> tuple[str, int]:
    name = name or f"Probe{uuid.uuid4().hex[:8]}"
    version = adapter(cloud).register_version(
        name, "TradingProbe", PROBE_CONFIG, source_code=PROBE_SOURCE % {"variant": variant},
        source_filename="trading_probe.py", warmup_days=1,
        aliases=[alias] if alias else ())
    return name, version.version


def _task_env(cloud: RunningCloud) -> dict[str, str]:
    ecs = cloud.client("ecs")
    td = ecs.describe_task_definition(taskDefinition=cloud.name("strategy"))["taskDefinition"]
    return {e["name"]: e["value"] for e in td["containerDefinitions"][0]["environment"]}


def start_session(cloud: RunningCloud, strategy: str, stage: str = "champion",
                  mode: str = "dry-run") -> str:
    """What the platform does for POST /api/v1/trading/sessions: a task definition revision
    with the three session variables, a service of one task on the mode's capacity."""
    ecs = cloud.client("ecs")
    sid = session_id(strategy, mode)
    td = ecs.describe_task_definition(taskDefinition=cloud.name("strategy"))["taskDefinition"]
    container = dict(td["containerDefinitions"][0])
    container["environment"] = [*container["environment"],
                                {"name": "STRATEGY_NAME", "value": strategy},
                                {"name": "STRATEGY_STAGE", "value": stage},
                                {"name": "TRADING_MODE", "value": mode}]
    arn = ecs.register_task_definition(
        family=cloud.name(f"session-{sid}"), executionRoleArn=td["executionRoleArn"],
        taskRoleArn=td["taskRoleArn"], networkMode="awsvpc", requiresCompatibilities=["FARGATE"],
        cpu=td["cpu"], memory=td["memory"], containerDefinitions=[container],
    )["taskDefinition"]["taskDefinitionArn"]
    backend = ecs.describe_services(cluster=cloud.name("strategies"),
                                    services=[cloud.name("backend-api")])["services"][0]
    ecs.create_service(
        cluster=cloud.name("strategies"), serviceName=cloud.name(f"session-{sid}"),
        taskDefinition=arn, desiredCount=1,
        capacityProviderStrategy=[{"capacityProvider": "FARGATE_SPOT" if mode == "dry-run"
                                   else "FARGATE", "weight": 1}],
        networkConfiguration=backend["networkConfiguration"])
    return sid


def stop_session(cloud: RunningCloud, sid: str) -> None:
    ecs = cloud.client("ecs")
    cluster, service = cloud.name("strategies"), cloud.name(f"session-{sid}")
    ecs.update_service(cluster=cluster, service=service, desiredCount=0)
    ecs.delete_service(cluster=cluster, service=service, force=True)


def item(cloud: RunningCloud, sid: str) -> dict[str, Any] | None:
    from boto3.dynamodb.types import TypeDeserializer

    raw = cloud.client("dynamodb").get_item(
        TableName=cloud.name("trading-heartbeats"), Key={"strategy_id": {"S": sid}},
        ConsistentRead=True).get("Item")
    if raw is None:
        return None
    d = TypeDeserializer()
    return {k: d.deserialize(v) for k, v in raw.items()}


def session_tasks(cloud: RunningCloud, sid: str) -> list[dict[str, Any]]:
    group = f"service:{cloud.name(f'session-{sid}')}"
    return [t for t in cloud.control("/ecs/tasks")["tasks"] if t["group"] == group]


def task_log(cloud: RunningCloud, sid: str) -> str:
    texts = []
    for t in session_tasks(cloud, sid):
        path = Path(t["log"])
        if path.exists():
            texts.append(f"== {path.name}\n" + path.read_text(errors="replace"))
    return "\n".join(texts)
