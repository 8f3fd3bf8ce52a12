"""The job: what to run (from the workflow-state item, falling back to the environment) and
the item's progress / result / error as the run goes.

The item is the backend's ticket (``tradai.backtests.service``): ``job`` holds the resolved
submission (version pinned, pairs and timeframe filled from the version's tags), ``request`` the
user's canonical request. The container never touches ``status``: the workflow's update-status
Lambda owns it, so a container that dies half-way can never report COMPLETED.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from tradai.backtests import stages
from tradai.backtests.store import from_item, to_item
from tradai.clock import Clock
from tradai.expiry import is_expired
from tradai.strategy_container.errors import BadJob, DependencyFailed, ModeNotSupported

RUNNABLE_MODES = ("backtest", "hyperopt")
PROGRESS_PUBLISHED = 90  # results written; the workflow completes the job (100)
TRADING_MODES = ("dry-run", "live")  # sessions: TRADING_MODE, not a job (trading.session)
DEFAULT_EPOCHS = 20
MAX_EPOCHS = 1000
DEFAULT_RANDOM_STATE = 42
DEFAULT_LOSS = "SharpeHyperOptLoss"
# Without hyperoptable parameters in a strategy, buy/sell are skipped (with a warning) and
# roi/stoploss are still tuned: the example strategies declare none.
DEFAULT_SPACES = ("buy", "sell", "roi", "stoploss")


@dataclass(frozen=True)
class JobSpec:
    job_id: str
    mode: str
    strategy: str
    version: int | None = None
    alias: str | None = None
    pairs: list[str] | None = None
    timeframe: str | None = None
    timerange: str | None = None
    strategy_class: str | None = None
    config_s3_path: str | None = None
    epochs: int = DEFAULT_EPOCHS
    spaces: tuple[str, ...] = DEFAULT_SPACES
    hyperopt_loss: str = DEFAULT_LOSS
    random_state: int = DEFAULT_RANDOM_STATE
    config_overrides: dict[str, Any] = field(default_factory=dict)

    @property
    def version_ref(self) -> str | int:
        """What to ask the registry for: the pinned number, else the alias, else latest."""
        if self.version is not None:
            return self.version
        return self.alias or "latest"


def check_mode(mode: str | None) -> str:
    if not mode:
        raise BadJob("TRADAI_MODE is not set; use one of " + ", ".join(RUNNABLE_MODES))
    if mode in TRADING_MODES:
        raise ModeNotSupported(f"mode {mode!r} is a trading session, not a job: start it with "
                               "POST /api/v1/trading/sessions (the container then reads "
                               "TRADING_MODE); jobs run " + ", ".join(RUNNABLE_MODES))
    if mode not in RUNNABLE_MODES:
        raise BadJob(f"unknown mode {mode!r}; use one of {', '.join(RUNNABLE_MODES)}")
    return mode


def job_spec(job_id: str, mode: str, item: Mapping[str, Any] | None,
             env: Mapping[str, str] | None = None) -> JobSpec:
    """The job from its item (``job`` first, then ``request``), then ``TRADAI_*`` env vars."""
    env = os.environ if env is None else env
    layers: list[Mapping[str, Any]] = []
    if item:
        layers += [m for m in (item.get("job"), item.get("request")) if isinstance(m, Mapping)]
        layers.append({k: item[k] for k in ("strategy", "version") if k in item})
    layers.append(_env_layer(env))

    def pick(name: str) -> Any:
        for layer in layers:
            value = layer.get(name)
            if value not in (None, "", []):
                return value
        return None

    strategy = pick("strategy")
    if not strategy:
        raise BadJob(f"job {job_id} names no strategy (item fields job.strategy / "
                     "request.strategy, or TRADAI_STRATEGY)")
    pairs = pick("pairs")
    if isinstance(pairs, str):
        pairs = [p.strip() for p in pairs.split(",") if p.strip()]
    spaces = pick("spaces")
    if isinstance(spaces, str):
        spaces = spaces.replace(",", " ").split()
    overrides = pick("config_overrides") or {}
    if not isinstance(overrides, Mapping):
        raise BadJob("config_overrides must be a JSON object")
    return JobSpec(
        job_id=job_id, mode=mode, strategy=str(strategy),
        version=_int(pick("version"), "version", lo=1),
        alias=_str(pick("alias")), pairs=list(pairs) if pairs else None,
        timeframe=_str(pick("timeframe")), timerange=_str(pick("timerange")),
        strategy_class=_str(pick("strategy_class")),
        config_s3_path=_str(pick("config_s3_path")),
        epochs=_int(pick("epochs"), "epochs", lo=1, hi=MAX_EPOCHS) or DEFAULT_EPOCHS,
        spaces=tuple(spaces) if spaces else DEFAULT_SPACES,
        hyperopt_loss=_str(pick("hyperopt_loss")) or DEFAULT_LOSS,
        random_state=_int(pick("random_state"), "random_state", lo=0) or DEFAULT_RANDOM_STATE,
        config_overrides=dict(overrides))


def _env_layer(env: Mapping[str, str]) -> dict[str, Any]:
    names = ("strategy", "version", "alias", "pairs", "timeframe", "timerange", "epochs",
             "spaces", "hyperopt_loss", "random_state")
    layer = {n: env.get(f"TRADAI_{n.upper()}") for n in names}
    layer["version"] = env.get("TRADAI_STRATEGY_VERSION") or layer["version"]
    return layer


def _str(value: Any) -> str | None:
    return None if value in (None, "") else str(value)


def _int(value: Any, name: str, lo: int, hi: int | None = None) -> int | None:
    if value in (None, ""):
        return None
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise BadJob(f"{name} must be a whole number, got {value!r}") from None
    if number < lo or (hi is not None and number > hi):
        raise BadJob(f"{name} must be between {lo} and {hi or 'any'}, got {number}")
    return number


class JobItem:
    """The job's item in the workflow-state table (hash key ``job_id``)."""

    def __init__(self, dynamodb: Any, table: str, job_id: str, clock: Clock) -> None:
        self.ddb = dynamodb
        self.table = table
        self.job_id = job_id
        self.clock = clock

    def read(self) -> dict[str, Any] | None:
        try:
            item = self.ddb.get_item(TableName=self.table, Key=self._key(),
                                     ConsistentRead=True).get("Item")
        except (ClientError, BotoCoreError) as exc:
            raise DependencyFailed(f"workflow-state table {self.table} unavailable: "
                                   f"{type(exc).__name__}") from exc
        job = from_item(item) if item else None
        # An expired ticket not yet deleted by TTL is gone, as for every reader of the table.
        return None if job is None or is_expired(job, self.clock.now()) else job

    def progress(self, percent: float, instants: Mapping[str, float | None] | None = None
                 ) -> None:
        """``instants``: stage instants (``tradai.backtests.stages``) reached by now."""
        self._set({"progress": percent, **_instants(instants)})

    def succeeded(self, result: Mapping[str, Any], mlflow_url: str | None,
                  instants: Mapping[str, float | None] | None = None) -> None:
        self._set({"progress": PROGRESS_PUBLISHED, "result": dict(result), "mlflow_url": mlflow_url,
                   **_instants(instants)})

    def failed(self, error: str) -> None:
        self._set({"error": error})

    def _set(self, fields: Mapping[str, Any]) -> None:
        values = {k: dynamo_value(v) for k, v in fields.items()}
        values = {k: v for k, v in values.items() if v is not None}
        values["updated_at"] = self.clock.now_datetime().isoformat()
        names = {f"#f{i}": k for i, k in enumerate(values)}
        expr = "SET " + ", ".join(f"{n} = :v{i}" for i, n in enumerate(names))
        serialised = to_item({f":v{i}": v for i, v in enumerate(values.values())})
        try:
            self.ddb.update_item(
                TableName=self.table, Key=self._key(), UpdateExpression=expr,
                ConditionExpression="attribute_exists(job_id)",
                ExpressionAttributeNames=names, ExpressionAttributeValues=serialised)
        except (ClientError, BotoCoreError) as exc:
            raise DependencyFailed(f"could not update job {self.job_id} in {self.table}: "
                                   f"{type(exc).__name__}") from exc

    def _key(self) -> dict[str, Any]:
        return {"job_id": {"S": self.job_id}}


def _instants(instants: Mapping[str, float | None] | None) -> dict[str, Any]:
    # Floats: ``dynamo_value`` makes them Decimals (milliseconds are plenty).
    return {stages.attr(name): round(float(at), 3) for name, at in (instants or {}).items()
            if at is not None}


def dynamo_value(value: Any) -> Any:
    """DynamoDB takes numbers as Decimal and has no NaN / infinity (those become null)."""
    if isinstance(value, bool) or value is None or isinstance(value, str | int):
        return value
    if isinstance(value, float):
        return Decimal(repr(value)) if value == value and abs(value) != float("inf") else None
    if isinstance(value, Mapping):
        return {str(k): dynamo_value(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [dynamo_value(v) for v in value]
    return str(value)
