"""What the Retraining workflow's functions and the backend read from their environment.

Names the deployment leaves out are derived from the one naming rule, as the backtest
workflow's settings do. The comparison's rule (metrics and margin) is configuration: a run
request may carry a stricter or looser margin of its own (an operator's choice).
"""

from __future__ import annotations

from pydantic import AliasChoices, Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from tradai.topology.naming import physical_name

RETRAINING_WORKFLOW = "retraining-workflow"
RETRAINING_QUEUE = "retraining-queue.fifo"
CHAMPION = "champion"
WORKFLOW_ACTOR = "retraining-workflow"  # who promotes: the audit record's actor


class RetrainingSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="", extra="ignore")

    project: str = Field(default="tradai", validation_alias="TRADAI_PROJECT")
    env: str = Field(default="dev", validation_alias="TRADAI_ENV")
    runs_table: str | None = Field(default=None, validation_alias="TRADAI_TABLE_RETRAINING_STATE")
    drift_table: str | None = Field(default=None, validation_alias="TRADAI_TABLE_DRIFT_STATE")
    audit_table: str | None = Field(default=None, validation_alias="TRADAI_TABLE_REGISTRY_AUDIT")
    queue_url: str | None = Field(default=None, validation_alias=AliasChoices(
        "TRADAI_QUEUE_RETRAINING_QUEUE", "TRADAI_RETRAINING_QUEUE_URL"))
    # The comparison's backtests: submitted as the backend submits them.
    backtest_queue_url: str | None = Field(default=None,
                                           validation_alias="TRADAI_QUEUE_BACKTEST_QUEUE")
    workflow_table: str | None = Field(default=None,
                                       validation_alias="TRADAI_TABLE_WORKFLOW_STATE")
    state_machine_arn: str | None = Field(
        default=None, validation_alias="TRADAI_STATE_MACHINE_RETRAINING_WORKFLOW")
    # Not ``deployed``: update-status reads these settings too (a failed run) and needs no
    # registry; the functions that do are told MLflow's URL with its login.
    mlflow_url: str | None = Field(default=None, validation_alias="TRADAI_MLFLOW_URL")
    # Scheduling: a champion older than this is retrained even without drift.
    max_model_age_days: float = Field(default=30.0, gt=0,
                                      validation_alias="TRADAI_RETRAINING_MAX_AGE_DAYS")
    # The challenger trains on train_days before the comparison window, and both are
    # backtested on the last compare_days (out of sample for both).
    train_days: int = Field(default=14, ge=2, le=365,
                            validation_alias="TRADAI_RETRAINING_TRAIN_DAYS")
    compare_days: int = Field(default=7, ge=1, le=90,
                              validation_alias="TRADAI_RETRAINING_COMPARE_DAYS")
    # The decision: the challenger must beat the champion by ``margin`` on every metric.
    metrics: str = Field(default="profit_total", validation_alias="TRADAI_RETRAINING_METRICS")
    margin: float = Field(default=0.01, ge=-1.0, le=100.0,
                          validation_alias="TRADAI_RETRAINING_MARGIN")
    ttl_days: int = 90

    def name(self, logical: str) -> str:
        return physical_name(self.project, self.env, logical)

    @property
    def runs(self) -> str:
        return self.runs_table or self.name("retraining-state")

    @property
    def tickets(self) -> str:
        return self.workflow_table or self.name("workflow-state")

    def require_backtest_queue_url(self) -> str:
        if not self.backtest_queue_url:
            raise RuntimeError("TRADAI_QUEUE_BACKTEST_QUEUE is not set: the comparison submits "
                               "its backtests to the backtest queue")
        return self.backtest_queue_url

    @property
    def drift(self) -> str:
        return self.drift_table or self.name("drift-state")

    @property
    def audit(self) -> str:
        return self.audit_table or self.name("registry-audit")

    @property
    def metric_names(self) -> list[str]:
        return [m.strip() for m in self.metrics.split(",") if m.strip()]

    def state_machine(self, function_arn: str | None) -> str:
        """Configured, or built from the calling function's ARN (it carries the account)."""
        if self.state_machine_arn:
            return self.state_machine_arn
        parts = (function_arn or "").split(":")
        if len(parts) < 5 or not parts[4]:
            raise RuntimeError("cannot derive the retraining workflow ARN: set "
                               "TRADAI_STATE_MACHINE_RETRAINING_WORKFLOW")
        return (f"arn:aws:states:{parts[3]}:{parts[4]}:stateMachine:"
                f"{self.name(RETRAINING_WORKFLOW)}")

    def require_mlflow_url(self) -> str:
        if not self.mlflow_url:
            raise RuntimeError("TRADAI_MLFLOW_URL is not set: the registry's URL")
        return self.mlflow_url.rstrip("/")

    def require_queue_url(self) -> str:
        if not self.queue_url:
            raise RuntimeError("TRADAI_QUEUE_RETRAINING_QUEUE is not set: the retraining "
                               "queue's URL")
        return self.queue_url
