"""What the backtest workflow's Lambdas need to know about the deployment.

Locally the bootstrap names every table, queue and topic in the environment
(``TRADAI_TABLE_*``, ``TRADAI_TOPIC_*``); the Pulumi program sets fewer variables
(``TRADAI_<TOPIC>_TOPIC_ARN``), so names it leaves out are derived from the one naming rule
(``tradai.topology.naming``) and ARNs from the function's own ARN.
"""

from __future__ import annotations

from functools import cached_property

from pydantic import AliasChoices, Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from tradai.topology import default_topology
from tradai.topology.naming import physical_name

BACKTEST_WORKFLOW = "backtest-workflow"
STRATEGY_TASK = "strategy"
BACKTEST_QUEUE = "backtest-queue.fifo"
CONSUMER = "backtest-consumer"
STRATEGY_CONTAINER = "strategy"  # the container name in the strategy task definition


class WorkflowSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="", extra="ignore")

    project: str = Field(default="tradai", validation_alias="TRADAI_PROJECT")
    env: str = Field(default="dev", validation_alias="TRADAI_ENV")
    region: str = Field(default="eu-central-1", validation_alias="AWS_DEFAULT_REGION")
    cluster: str | None = Field(default=None, validation_alias="TRADAI_CLUSTER")
    workflow_table: str | None = Field(default=None,
                                       validation_alias="TRADAI_TABLE_WORKFLOW_STATE")
    idempotency_table: str | None = Field(default=None,
                                          validation_alias="TRADAI_TABLE_IDEMPOTENCY")
    slots_table: str | None = Field(default=None, validation_alias="TRADAI_TABLE_BACKTEST_SLOTS")
    # The orphan scanner re-sends tickets that may never have been sent (tradai.workflows.
    # orphans); without it, it does not.
    backtest_queue_url: str | None = Field(default=None,
                                           validation_alias="TRADAI_QUEUE_BACKTEST_QUEUE")
    notifications_topic: str | None = Field(default=None, validation_alias=AliasChoices(
        "TRADAI_NOTIFICATIONS_TOPIC_ARN", "TRADAI_TOPIC_NOTIFICATIONS"))
    state_machine_arn: str | None = Field(
        default=None, validation_alias="TRADAI_STATE_MACHINE_BACKTEST_WORKFLOW")
    data_collection_url: str | None = Field(default=None,
                                            validation_alias="TRADAI_DATA_COLLECTION_URL")
    # Lowers the spec's limit (task_definitions[strategy].max_concurrent), e.g. in tests.
    max_concurrent_override: int | None = Field(
        default=None, ge=1, validation_alias="TRADAI_BACKTEST_MAX_CONCURRENT")
    ttl_days: int = 30

    def name(self, logical: str) -> str:
        return physical_name(self.project, self.env, logical)

    @property
    def start_retry_window_seconds(self) -> int:
        """How long SQS may deliver a backtest message again after a failed start: its
        visibility timeout times maxReceiveCount (the orphan scanner waits that long)."""
        queue = default_topology().queue(BACKTEST_QUEUE)
        return queue.visibility_timeout * (queue.max_receive_count or 1)

    @property
    def table(self) -> str:
        return self.workflow_table or self.name("workflow-state")

    @property
    def idempotency(self) -> str:
        return self.idempotency_table or self.name("idempotency")

    @property
    def slots(self) -> str:
        return self.slots_table or self.name("backtest-slots")

    @property
    def slot_grace_wall_seconds(self) -> float:
        """How long a slot is kept for a job whose execution does not exist yet: twice the
        consumer's timeout (acquire and StartExecution happen in one invocation). Wall
        seconds: the timeout bounds real work."""
        return 2.0 * default_topology().lambda_(CONSUMER).timeout

    @property
    def cluster_name(self) -> str:
        return self.cluster or self.name(default_topology().cluster)

    @property
    def strategy_family(self) -> str:
        return self.name(STRATEGY_TASK)

    @cached_property
    def max_concurrent(self) -> int:
        if self.max_concurrent_override is not None:
            return self.max_concurrent_override
        spec = next(t for t in default_topology().task_definitions if t.name == STRATEGY_TASK)
        return spec.max_concurrent

    def backtest_state_machine(self, function_arn: str | None) -> str:
        """The workflow's ARN: configured, or built from the calling function's ARN
        (``arn:aws:lambda:<region>:<account>:function:<name>``), which carries the account."""
        if self.state_machine_arn:
            return self.state_machine_arn
        parts = (function_arn or "").split(":")
        if len(parts) < 5 or not parts[4]:
            raise RuntimeError("cannot derive the backtest workflow ARN: set "
                               "TRADAI_STATE_MACHINE_BACKTEST_WORKFLOW")
        return (f"arn:aws:states:{parts[3]}:{parts[4]}:stateMachine:"
                f"{self.name(BACKTEST_WORKFLOW)}")
