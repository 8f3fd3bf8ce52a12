"""One evaluation round of every metric alarm, and what a state change does.

Every simulated minute the derived AWS metrics are sampled and published (stamped within the
minute just ended), then every alarm is evaluated on its completed periods; alarms with a
high-resolution period (10, 20, 30 s) are evaluated every 10 s, as AWS does. A state change
updates the alarm in moto, adds history and runs the new state's actions once; an evaluation
that leaves the state as it is does nothing.
"""

from __future__ import annotations

import json
import logging
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from tradai_sim.cloud.alarms import actions, moto_view, notification
from tradai_sim.cloud.alarms.datum import Datum
from tradai_sim.cloud.alarms.definition import AlarmDefinition
from tradai_sim.cloud.alarms.evaluation import evaluate, evaluation_range
from tradai_sim.cloud.alarms.history import HistoryStore, state_item
from tradai_sim.cloud.alarms.reasons import reason_data, reason_data_time, state_reason
from tradai_sim.cloud.alarms.statistics import low_sample_threshold, period_starts, series

log = logging.getLogger(__name__)

MINUTE = 60
HIGH_RESOLUTION_TICK = 10  # AWS evaluates alarms with a period under a minute every 10 s
SAMPLE_OFFSET = 1.0  # a minute's sample is stamped inside the minute it describes

Sampler = Callable[[float], list[Datum]]


@dataclass
class AlarmRecord:
    evaluations: int = 0
    transitions: int = 0
    published: int = 0
    last: dict[str, Any] | None = None
    unsupported: str | None = None


@dataclass
class AlarmEngine:
    account_id: str
    region: str
    backend: Callable[[], Any]  # moto's CloudWatch backend
    publish: actions.Publish
    history: HistoryStore
    lock: threading.RLock
    samplers: dict[str, Sampler] = field(default_factory=dict)
    records: dict[str, AlarmRecord] = field(default_factory=dict)
    ticks: int = 0
    last_tick: float | None = None
    sampled: dict[str, int | str] = field(default_factory=dict)
    errors: deque[str] = field(default_factory=lambda: deque(maxlen=10))
    # The datapoints by metric and time, read incrementally: an evaluation costs its window,
    # not every datapoint stored since the stack started.
    samples: moto_view.SampleIndex = field(default_factory=moto_view.SampleIndex)

    # -- a round ------------------------------------------------------------------------------
    def tick(self, at: float) -> None:
        minute = at % MINUTE == 0
        if minute:
            self._sample(at - SAMPLE_OFFSET)
        backend = self.backend()
        due = [a for a in moto_view.metric_alarms(backend)
               if minute or int(a.period or MINUTE) < MINUTE]
        if due:
            lookback = max(int(a.period or MINUTE) * evaluation_range(int(a.evaluation_periods
                                                                          or 1)) for a in due)
            index = self.samples.since(backend, at - lookback)
            for alarm in due:
                try:
                    self._evaluate(backend, alarm, at, index)
                except Exception as exc:  # one broken alarm must not stop the others
                    log.exception("evaluating alarm %s failed", alarm.name)
                    self.errors.append(f"{alarm.name}: {type(exc).__name__}: {exc}")
        self.ticks += 1
        self.last_tick = at

    def _sample(self, at: float) -> None:
        for name, sampler in self.samplers.items():
            try:
                datums = sampler(at)
                moto_view.put_datums(self.backend(), datums)
                self.sampled[name] = len(datums)
            except Exception as exc:  # e.g. the ALB is down: its metrics are missing data
                self.sampled[name] = f"{type(exc).__name__}: {exc}"

    def _evaluate(self, backend: Any, alarm: Any, at: float, index: dict[Any, Any]) -> None:
        record = self.records.setdefault(alarm.name, AlarmRecord())
        try:
            d = moto_view.definition(alarm)
        except ValueError as exc:
            record.unsupported = str(exc)
            return
        record.unsupported = None
        starts = period_starts(at, d.period, evaluation_range(d.evaluation_periods))
        points = series(index.get(d.metric_key, []), d.statistic, d.period, starts, d.unit)
        low = ([p.sample_count < low_sample_threshold(d.statistic) for p in points]
               if d.is_percentile else None)
        verdict = evaluate(d.rule, [p.value for p in points], low)
        with self.lock:
            if backend.alarms.get(d.name) is not alarm:
                return  # replaced or deleted while we looked
            old_state = alarm.state_value
            record.evaluations += 1
            record.last = {
                "at": reason_data_time(at), "state": verdict.state or old_state,
                "why": verdict.why, "filled": verdict.filled, "breaching": verdict.breaching,
                "range": [{"start": reason_data_time(p.start), "value": p.value}
                          for p in points],
                "evaluated": [reason_data_time(points[i].start) for i in verdict.evaluated],
            }
            if verdict.state is None or verdict.state == old_state:
                return
            old = (old_state, alarm.state_reason)
            reason = state_reason(d, verdict, points, old_state)
            data = json.dumps(reason_data(d, verdict, points, at))
            moto_view.set_state(alarm, verdict.state, reason, data, at)
            self.state_changed(d, alarm, old, at)

    # -- a state change (from an evaluation or SetAlarmState) -------------------------------------
    def state_changed(self, d: AlarmDefinition, alarm: Any, old: tuple[str, str],
                      at: float) -> None:
        new_state, reason = alarm.state_value, alarm.state_reason
        self.history.add(state_item(d.name, at, old, (new_state, reason,
                                                      alarm.state_reason_data)))
        record = self.records.setdefault(d.name, AlarmRecord())
        record.transitions += 1
        log.info("alarm %s: %s -> %s (%s)", d.name, old[0], new_state, reason)
        targets = d.actions_for(new_state)
        if not (d.actions_enabled and targets):
            return
        body = notification.message(d, old[0], new_state, reason, at, self.region,
                                    self.account_id)
        items = actions.run(d.name, targets, notification.subject(new_state, d.name, self.region),
                            json.dumps(body), at, self.publish)
        for item in items:
            self.history.add(item)
        record.published += sum(item.data["actionState"] == "Succeeded" for item in items)

    # -- reports ------------------------------------------------------------------------------
    def report(self, name: str | None = None) -> dict[str, Any]:
        alarms = {}
        for alarm in moto_view.metric_alarms(self.backend()):
            if name is not None and alarm.name != name:
                continue
            record = self.records.get(alarm.name, AlarmRecord())
            updated = moto_view.epoch(alarm.state_updated_timestamp)
            alarms[alarm.name] = {
                "state": alarm.state_value, "reason": alarm.state_reason,
                "state_updated": reason_data_time(updated) if updated else None,
                "evaluations": record.evaluations, "transitions": record.transitions,
                "published": record.published, "unsupported": record.unsupported,
                "last_evaluation": record.last,
                "history": [{"at": reason_data_time(i.timestamp), "type": i.item_type,
                             "summary": i.summary}
                            for i in self.history.query(alarm_name=alarm.name)[:50]],
            }
        return {"ticks": self.ticks,
                "last_tick": reason_data_time(self.last_tick) if self.last_tick else None,
                "sampled": dict(self.sampled), "errors": list(self.errors), "alarms": alarms}

    def summary(self) -> dict[str, Any]:
        return {"ticks": self.ticks, "sampled": dict(self.sampled), "errors": list(self.errors),
                "states": {a.name: a.state_value
                           for a in moto_view.metric_alarms(self.backend())}}
