"""Queueing a retraining run: the scheduler's choice and an operator's request.

A run is recorded QUEUED (a conditional put on its keys), then one message goes to the
retraining FIFO queue: group = the strategy (a strategy's runs start in order), deduplication
id = the run id. The scheduler's runs are keyed by the day (``requested_at`` = that midnight),
so a strategy is retrained at most once a day whatever the schedule's retries do; SQS's own
deduplication covers only five minutes
(https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/FIFO-key-terms.html).
An operator's request is keyed by its instant. A run recorded but not sent (the send failed)
is sent again by the next request for it.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

from tradai.clock import Clock
from tradai.models import tags as MT
from tradai.registry.models import StrategyNotFound, StrategyVersion
from tradai.retraining.runs import QUEUED, RunStore, iso, run_id_for
from tradai.retraining.settings import CHAMPION

log = logging.getLogger(__name__)
DRIFTING = "DRIFTING"  # tradai.models.drift's status (not imported: it pulls in no numpy, but
# keeps the scheduler's imports to the registry and the tables)


class NoModel(ValueError):
    """422: the strategy's champion is not driven by a trained model: nothing to retrain."""


class ChampionReader(Protocol):
    def get_model_version(self, name: str, stage_or_alias: str | int = ...) -> StrategyVersion: ...

    def list_strategies(self) -> list[Any]: ...


def champion_model(registry: ChampionReader, strategy: str) -> StrategyVersion:
    """The strategy's champion if it carries a model; StrategyNotFound / NoModel otherwise."""
    try:
        version = registry.get_model_version(strategy, CHAMPION)
    except StrategyNotFound as exc:
        raise StrategyNotFound(f"strategy {strategy!r} has no {CHAMPION} version: {exc}") from exc
    if not MT.is_model_driven(version):
        raise NoModel(f"{strategy} v{version.version} ({CHAMPION}) is not driven by a trained "
                      "model (no model_reference tag): there is nothing to retrain")
    return version


class RunQueue:
    def __init__(self, runs: RunStore, sqs: Any, queue_url: str, clock: Clock) -> None:
        self.runs, self.sqs, self.queue_url, self.clock = runs, sqs, queue_url, clock

    def request(self, strategy: str, requested_at: str, trigger: str, reason: str,
                champion: int | None = None, margin: float | None = None
                ) -> tuple[dict[str, Any], bool]:
        """The run and whether this call created it."""
        now = self.clock.now()
        run = {"model_name": strategy, "requested_at": requested_at,
               "run_id": run_id_for(strategy, requested_at), "state": QUEUED,
               "trigger": trigger, "request_reason": reason, "champion_version": champion,
               "margin": margin, "created_at": iso(now), "enqueued": False}
        created = self.runs.create(run, now)
        if not created:
            existing = self.runs.get(strategy, requested_at)
            if existing is None or existing.get("enqueued") or existing.get("state") != QUEUED:
                return existing or run, False
            run = existing
        self._send(run)
        self.runs.update(strategy, requested_at, self.clock.now(), enqueued=True)
        return {**run, "enqueued": True}, created

    def _send(self, run: dict[str, Any]) -> None:
        body = {"job_id": run["run_id"], "run_id": run["run_id"],
                "model_name": run["model_name"], "requested_at": run["requested_at"],
                "trigger": run["trigger"]}
        if run.get("margin") is not None:
            body["margin"] = run["margin"]
        self.sqs.send_message(QueueUrl=self.queue_url, MessageBody=json.dumps(body),
                              MessageGroupId=run["model_name"],
                              MessageDeduplicationId=run["run_id"])


def day_start(ts: float) -> str:
    day = datetime.fromtimestamp(ts, UTC).date()
    return iso(datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp())


@dataclass
class ScheduleReport:
    queued: list[str] = field(default_factory=list)
    already: list[str] = field(default_factory=list)  # a run of today exists
    fine: list[str] = field(default_factory=list)  # no drift, young enough
    skipped: list[str] = field(default_factory=list)  # no model-driven champion
    errors: dict[str, str] = field(default_factory=dict)


class DriftStates(Protocol):
    def status(self, strategy: str) -> dict[str, Any] | None: ...


class DriftTable:
    """The drift monitor's item per strategy (``drift-state``)."""

    def __init__(self, ddb: Any, table: str) -> None:
        self.ddb, self.table = ddb, table

    def status(self, strategy: str) -> dict[str, Any] | None:
        from tradai.retraining.runs import from_item

        got = self.ddb.get_item(TableName=self.table, Key={"model_name": {"S": strategy}},
                                ConsistentRead=True).get("Item")
        return from_item(got) if got else None


def why_retrain(version: StrategyVersion, drift: dict[str, Any] | None, now: float,
                max_age_days: float) -> tuple[str, str] | None:
    """(trigger, reason) when the champion should be retrained: its own drift state is
    DRIFTING, or it is older than the maximum age."""
    if drift and drift.get("status") == DRIFTING and int(drift.get("version", -1)) == \
            version.version:
        return "drift", (f"v{version.version} drifting: max PSI {drift.get('max_psi')} on "
                         f"{drift.get('max_feature')}")
    if version.created_at is not None:
        age_days = (now - version.created_at) / 86400
        if age_days > max_age_days:
            return "age", f"v{version.version} is {age_days:.1f} days old (max {max_age_days:g})"
    return None


class RetrainingScheduler:
    def __init__(self, registry: ChampionReader, drift: DriftStates, queue: RunQueue,
                 clock: Clock, max_age_days: float) -> None:
        self.registry, self.drift, self.queue = registry, drift, queue
        self.clock, self.max_age_days = clock, max_age_days

    def run(self, strategies: Iterable[str] | None = None) -> ScheduleReport:
        report = ScheduleReport()
        names = list(strategies) if strategies is not None else [
            s.name for s in self.registry.list_strategies() if CHAMPION in (s.aliases or {})]
        now = self.clock.now()
        for name in names:
            try:
                version = champion_model(self.registry, name)
            except (StrategyNotFound, NoModel):
                report.skipped.append(name)
                continue
            except Exception as exc:  # one unreadable strategy does not stop the others
                report.errors[name] = f"{type(exc).__name__}: {exc}"
                continue
            try:
                why = why_retrain(version, self.drift.status(name), now, self.max_age_days)
                if why is None:
                    report.fine.append(name)
                    continue
                _, created = self.queue.request(name, day_start(now), why[0], why[1],
                                                champion=version.version)
                (report.queued if created else report.already).append(name)
            except Exception as exc:
                report.errors[name] = f"{type(exc).__name__}: {exc}"
        return report
