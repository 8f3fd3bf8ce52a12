"""Where a trading session's resources live: table, cluster, strategy task definition, network,
the exchange keys' secret.

Every name falls back to the one naming rule (``tradai.topology.naming``), so only what naming
cannot derive must be configured: the private subnets and the security group strategy tasks
use (``TRADAI_PRIVATE_SUBNETS``, ``TRADAI_STRATEGY_SECURITY_GROUPS``, JSON lists), which the
backtest workflow's ASL receives from the same source (the local bootstrap's resources, the
Pulumi program's network) as ``${PrivateSubnets}`` and ``${StrategySecurityGroups}``.
"""

from __future__ import annotations

import json
from functools import lru_cache
from typing import Annotated

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from tradai.settings import deployed
from tradai.topology import default_topology
from tradai.topology.naming import physical_name

HEARTBEATS_TABLE = "trading-heartbeats"
STRATEGY_TASK = "strategy"
EXCHANGE_SECRET = "exchange-credentials"


class TradingSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="", extra="ignore", populate_by_name=True)

    project: str = Field(default="tradai", validation_alias="TRADAI_PROJECT")
    env: str = Field(default="dev", validation_alias="TRADAI_ENV")
    table_name: str | None = Field(default=None,
                                   validation_alias="TRADAI_TABLE_TRADING_HEARTBEATS")
    cluster_name: str | None = Field(default=None, validation_alias="TRADAI_CLUSTER")
    secret_name: str | None = Field(default=None,
                                    validation_alias="TRADAI_SECRET_EXCHANGE_CREDENTIALS")
    subnets: Annotated[list[str], NoDecode] = deployed(
        "TRADAI_PRIVATE_SUBNETS", default_factory=list)
    security_groups: Annotated[list[str], NoDecode] = deployed(
        "TRADAI_STRATEGY_SECURITY_GROUPS", default_factory=list)

    @field_validator("subnets", "security_groups", mode="before")
    @classmethod
    def _json_list(cls, value: object) -> object:
        # A comma-separated list is accepted too (easier to type by hand).
        if isinstance(value, str):
            text = value.strip()
            if text.startswith("["):
                return json.loads(text)
            return [v.strip() for v in text.split(",") if v.strip()]
        return value

    def name(self, logical: str) -> str:
        return physical_name(self.project, self.env, logical)

    @property
    def table(self) -> str:
        return self.table_name or self.name(HEARTBEATS_TABLE)

    @property
    def cluster(self) -> str:
        return self.cluster_name or self.name(default_topology().cluster)

    @property
    def secret(self) -> str:
        return self.secret_name or self.name(EXCHANGE_SECRET)

    @property
    def strategy_family(self) -> str:
        return self.name(STRATEGY_TASK)

    def session_resource(self, session_id: str) -> str:
        """Task definition family and ECS service name of one session."""
        return self.name(f"session-{session_id}")

    @property
    def session_prefix(self) -> str:
        return self.name("session-")


@lru_cache(maxsize=1)
def trading_settings() -> TradingSettings:
    return TradingSettings()
