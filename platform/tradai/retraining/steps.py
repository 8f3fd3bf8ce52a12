"""The Retraining workflow's Lambda steps: check, compare (submit, poll, decide), promote, and
the FAILED record of every failure path.

Each step reads the run from ``retraining-state`` by the keys the execution carries
(``model_name``, ``requested_at``) and writes what it learnt there, so the run's item is the
record an operator reads (``GET /api/v1/retraining``).

The comparison goes through the platform's backtest path: two tickets submitted as the
backend submits them (``tradai.backtests.service``: recorded QUEUED, then the backtest FIFO
queue, the backtest consumer, the Backtest Workflow, the strategy container), on the same
window, owned by the retraining workflow; each with an idempotency key of the run and its
role, so a retried step finds its tickets instead of submitting more.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from tradai.authz import Principal
from tradai.backtests.models import BacktestRequest, JobStatus
from tradai.backtests.service import BacktestService, Owner
from tradai.backtests.store import TicketStore
from tradai.clock import Clock
from tradai.models import tags as MT
from tradai.registry.models import StrategyDetail, StrategyVersion
from tradai.registry.promotion import AliasUnchanged, Promotion
from tradai.retraining.decision import decide
from tradai.retraining.requests import ChampionReader, DriftStates, champion_model, why_retrain
from tradai.retraining.runs import (
    COMPLETED,
    FAILED,
    KEPT,
    PROMOTED,
    ROLES,
    RUNNING,
    SKIPPED,
    RunFinished,
    RunStore,
)
from tradai.retraining.settings import CHAMPION, WORKFLOW_ACTOR, RetrainingSettings

RETRAINING_RUN_TAG = "retraining_run"  # set on the challenger version by its registration
STAGES = {
    "check": "the retraining check failed",
    "data": "market data for training could not be prepared",
    "train": "training the challenger failed",
    "register": "registering or validating the challenger failed",
    "compare": "comparing champion and challenger failed",
    "promote": "promoting the challenger failed",
}


class ComparisonFailed(RuntimeError):
    """A comparison backtest failed or was cancelled: no decision, the champion stays."""


class ChallengerMissing(RuntimeError):
    """No version carries this run's tag: the registration did not happen."""


def keys(event: dict[str, Any]) -> tuple[str, str]:
    return str(event["model_name"]), str(event["requested_at"])


def _day(d: datetime) -> str:
    return d.strftime("%Y%m%d")


@dataclass(frozen=True)
class Windows:
    train_start: datetime
    train_end: datetime  # exclusive: the comparison window starts here
    today: datetime

    @classmethod
    def at(cls, now: datetime, train_days: int, compare_days: int) -> Windows:
        today = now.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
        compare_start = today - timedelta(days=compare_days)
        return cls(compare_start - timedelta(days=train_days), compare_start, today)

    def as_dict(self, timeframe_ms: int) -> dict[str, Any]:
        return {"train_start_ms": int(self.train_start.timestamp() * 1000),
                # the open time of the last candle before the comparison window
                "train_end_ms": int(self.train_end.timestamp() * 1000) - timeframe_ms,
                "train_timerange": f"{_day(self.train_start)}-{_day(self.train_end)}",
                "compare_timerange": f"{_day(self.train_end)}-{_day(self.today)}",
                "data_timerange": f"{_day(self.train_start)}-{_day(self.today)}"}


def _timeframe_ms(timeframe: str) -> int:
    units = {"m": 60_000, "h": 3_600_000, "d": 86_400_000, "w": 604_800_000}
    return int(timeframe[:-1]) * units[timeframe[-1]]


class CheckRetraining:
    """One run of a strategy at a time: two would compare against the same champion and the
    later promotion would silently replace the earlier. Another run still RUNNING skips this
    one, unless its execution has ended (timed out or stopped: an execution's own timeout
    takes no Catch, so its run never recorded an outcome); that run is marked FAILED."""

    def __init__(self, registry: ChampionReader, drift: DriftStates, runs: RunStore,
                 clock: Clock, settings: RetrainingSettings, sfn: Any = None) -> None:
        self.registry, self.drift, self.runs = registry, drift, runs
        self.clock, self.settings, self.sfn = clock, settings, sfn

    def check(self, event: dict[str, Any]) -> dict[str, Any]:
        strategy, at = keys(event)
        run = self.runs.require(strategy, at)
        version = champion_model(self.registry, strategy)  # StrategyNotFound / NoModel: FAILED
        now = self.clock.now()
        busy = self._running_elsewhere(strategy, at, now)
        if busy is not None:
            reason = f"skipped: run {busy} of {strategy} is still running"
            self.runs.update(strategy, at, now, state=SKIPPED, reason=reason,
                             champion_version=version.version)
            return {"needed": False, "reason": reason}
        trigger = run.get("trigger") or event.get("trigger")
        if trigger in ("drift", "age"):
            why = why_retrain(version, self.drift.status(strategy), now,
                              self.settings.max_model_age_days)
            if why is None:
                reason = (f"no longer needed: v{version.version} is neither drifting nor older "
                          f"than {self.settings.max_model_age_days:g} days")
                self.runs.update(strategy, at, now, state=SKIPPED, reason=reason,
                                 champion_version=version.version)
                return {"needed": False, "reason": reason}
        margin = event.get("margin", run.get("margin"))
        margin = float(margin) if margin is not None else self.settings.margin
        pair = version.tags.get(MT.TRAINING_PAIR) or version.pairs[0]
        timeframe = version.tags.get(MT.TRAINING_TIMEFRAME) or version.timeframe
        windows = Windows.at(self.clock.now_datetime(), self.settings.train_days,
                             self.settings.compare_days).as_dict(_timeframe_ms(timeframe))
        plan = {"champion_version": version.version, "pair": pair, "timeframe": timeframe,
                "exchange": version.tags.get(MT.TRAINING_EXCHANGE) or "binance",
                "margin": margin, "metrics": self.settings.metric_names, **windows}
        if not self.runs.update(strategy, at, now, state=RUNNING, **plan):
            raise RunFinished(f"retraining run {run.get('run_id')} is finished already")
        return {"needed": True, "reason": run.get("request_reason") or trigger or "requested",
                **plan, "pairs": [pair],
                # what data-collection-proxy reads: the training window plus a day of warm-up
                "validation": {"strategy": {"warmup_days": 1, "timeframe": timeframe}},
                "timerange": windows["data_timerange"]}

    def _running_elsewhere(self, strategy: str, at: str, now: float) -> str | None:
        for other in self.runs.runs_of(strategy, limit=20):
            if other.get("requested_at") == at or other.get("state") != RUNNING:
                continue
            status = self._execution_status(other.get("execution_arn"))
            if status in (None, "RUNNING"):
                return str(other.get("run_id"))
            self.runs.update(strategy, str(other["requested_at"]), now, state=FAILED,
                             reason=f"its execution ended {status} without recording an "
                                    "outcome", failed_stage="execution")
        return None

    def _execution_status(self, arn: Any) -> str | None:
        """The execution's status, or None when it cannot be told (assumed running)."""
        if not arn or self.sfn is None:
            return None
        try:
            return str(self.sfn.describe_execution(executionArn=str(arn))["status"])
        except Exception:
            return None


class RegistryVersions:
    """The challenger: the version its registration tagged with the run id."""

    def __init__(self, client: Any) -> None:
        self.client = client

    def tagged(self, strategy: str, run_id: str) -> int | None:
        found = [int(mv.version) for mv in self.client.search_model_versions(
            f"name = '{strategy}'") if (mv.tags or {}).get(RETRAINING_RUN_TAG) == run_id]
        return max(found) if found else None


class Comparison:
    def __init__(self, backtests: BacktestService, tickets: TicketStore, versions: Any,
                 runs: RunStore, clock: Clock) -> None:
        self.backtests, self.tickets, self.versions = backtests, tickets, versions
        self.runs, self.clock = runs, clock

    def submit(self, event: dict[str, Any]) -> dict[str, Any]:
        strategy, at = keys(event)
        run = self.runs.require(strategy, at)
        run_id = str(run["run_id"])
        challenger = self.versions.tagged(strategy, run_id)
        if challenger is None:
            raise ChallengerMissing(f"no version of {strategy} carries {RETRAINING_RUN_TAG}="
                                    f"{run_id}: the challenger was not registered")
        champion = int(run["champion_version"])
        jobs: dict[str, str] = {}
        if challenger != champion:  # the same model (same candles): nothing to compare
            owner = Owner(id=WORKFLOW_ACTOR, name=f"retraining {run_id}")
            for role, version in (("champion", champion), ("challenger", challenger)):
                ticket = self.backtests.submit(BacktestRequest(
                    strategy=strategy, version=version, pairs=[str(run["pair"])],
                    timeframe=str(run["timeframe"]), timerange=str(run["compare_timerange"])),
                    owner, idempotency_key=f"{run_id}:{role}")
                jobs[role] = ticket.job_id
        self.runs.update(strategy, at, self.clock.now(), challenger_version=challenger,
                         **{f"{role}_job": job for role, job in jobs.items()})
        return {"challenger_version": challenger, "jobs": jobs}

    def poll(self, event: dict[str, Any]) -> dict[str, Any]:
        strategy, at = keys(event)
        run = self.runs.require(strategy, at)
        states = {}
        for role in ROLES:
            job = run.get(f"{role}_job")
            if not job:
                continue
            item = self.tickets.get(str(job)) or {}
            status = item.get("status")
            if status in (JobStatus.FAILED, JobStatus.CANCELLED):
                raise ComparisonFailed(f"the {role}'s backtest {job} ended {status}: "
                                       f"{item.get('error') or 'no reason given'}")
            states[role] = status
        return {"done": all(s == JobStatus.COMPLETED for s in states.values()),
                "states": states}

    def decide(self, event: dict[str, Any]) -> dict[str, Any]:
        strategy, at = keys(event)
        run = self.runs.require(strategy, at)
        now = self.clock.now()
        metrics, margin = list(run.get("metrics") or []), float(run.get("margin") or 0.0)
        if not run.get("champion_job"):
            reason = (f"kept the champion: the retrained model is v{run.get('champion_version')}"
                      " itself (same candles, same model)")
            self._finish_kept(strategy, at, now, reason)
            return {"promote": False, "reason": reason}
        results = {role: dict((self.tickets.get(str(run[f"{role}_job"])) or {}).get("result")
                              or {}) for role in ROLES}
        decision = decide(results["champion"], results["challenger"], metrics, margin)
        self.runs.update(strategy, at, now, champion_metrics=results["champion"],
                         challenger_metrics=results["challenger"], deltas=decision.deltas)
        if not decision.promote:
            self._finish_kept(strategy, at, now, decision.reason)
        return {"promote": decision.promote, "reason": decision.reason}

    def _finish_kept(self, strategy: str, at: str, now: float, reason: str) -> None:
        self.runs.update(strategy, at, now, state=COMPLETED, decision=KEPT, reason=reason)


class FreshRegistry:
    """What Promotion reads and writes, uncached (a Lambda has no cache to bypass)."""

    def __init__(self, adapter: Any) -> None:
        self.adapter = adapter

    def fresh_strategy(self, name: str) -> StrategyDetail:
        return self.adapter.get_strategy(name)  # type: ignore[no-any-return]

    def set_alias(self, name: str, alias: str, version: int) -> None:
        self.adapter.set_alias(name, alias, version)

    def get_model_version(self, name: str, ref: str | int) -> StrategyVersion:
        return self.adapter.get_model_version(name, ref)  # type: ignore[no-any-return]


def workflow_principal(run_id: str) -> Principal:
    return Principal(id=WORKFLOW_ACTOR, name=f"{WORKFLOW_ACTOR} run {run_id}",
                     roles=("workflow",), permissions=frozenset())


def promote(promotion: Promotion, runs: RunStore, clock: Clock, event: dict[str, Any]
            ) -> dict[str, Any]:
    strategy, at = keys(event)
    run = runs.require(strategy, at)
    if run.get("state") != RUNNING:
        raise RunFinished(f"retraining run {run.get('run_id')} is {run.get('state')}: not "
                          "promoting")
    challenger = int(run["challenger_version"])
    reason = (f"retraining run {run['run_id']}: " + str(event.get("reason") or "the challenger "
              "beat the champion"))
    try:
        audit = promotion.promote(strategy, CHAMPION, challenger, reason,
                                  workflow_principal(str(run["run_id"])))
        event_id: str | None = audit.event_id
    except AliasUnchanged:  # a retried step whose first attempt moved it
        event_id = None
    runs.update(strategy, at, clock.now(), state=COMPLETED, decision=PROMOTED, reason=reason,
                audit_event=event_id)
    return {"promoted": challenger, "from": run.get("champion_version"), "audit_event": event_id}


def failed(runs: RunStore, clock: Clock, event: dict[str, Any]) -> dict[str, Any]:
    """The last word of every failure path: FAILED with a reason a person can act on."""
    from tradai.workflows.failure import reason as failure_reason

    strategy, at = keys(event)
    stage = event.get("failed_stage")
    text = failure_reason(event.get("error"))
    what = STAGES.get(str(stage), "the retraining workflow failed")
    detail = text.split(": ", 1)[1] if ": " in text else text
    # failure.reason speaks of the backtest container; here the task is the stage's own
    detail = detail.replace("backtest container", "container").replace("backtest task", "task")
    reason = f"{what}: {detail}"
    # A finished run keeps its outcome: a check that found it finished (RunFinished) ends here
    # too, and must not turn a COMPLETED or SKIPPED run FAILED.
    applied = runs.update(strategy, at, clock.now(), state=FAILED, reason=reason,
                          failed_stage=stage)
    return {"run": at, "state": FAILED if applied else "unchanged", "reason": reason}
