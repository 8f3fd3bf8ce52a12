"""StateReason and StateReasonData for a verdict, worded as CloudWatch words them.

Examples of AWS's text: "Threshold Crossed: 1 out of the last 1 datapoints [5.0 (08/11/22
11:25:00)] was greater than or equal to the threshold (1.0) (minimum 1 datapoint for OK ->
ALARM transition).", "Insufficient Data: 1 datapoint was unknown.", "Threshold Crossed: no
datapoints were received for 1 period and 1 missing datapoint was treated as [NonBreaching]."
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from tradai_sim.cloud.alarms.definition import AlarmDefinition
from tradai_sim.cloud.alarms.evaluation import (
    ALARM,
    INSUFFICIENT_DATA,
    LOW_SAMPLES,
    NO_DATA,
    PREMATURE,
    UNKNOWN,
    Verdict,
)
from tradai_sim.cloud.alarms.statistics import PeriodValue

_PHRASES = {
    "GreaterThanOrEqualToThreshold": "greater than or equal to",
    "GreaterThanThreshold": "greater than",
    "LessThanThreshold": "less than",
    "LessThanOrEqualToThreshold": "less than or equal to",
}
_TREATED_AS = {"breaching": "Breaching", "notBreaching": "NonBreaching"}


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" + ("" if n == 1 else "s")


def _was(n: int) -> str:
    return "was" if n == 1 else "were"


def reason_time(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%d/%m/%y %H:%M:%S")


def reason_data_time(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "+0000"


def state_reason(alarm: AlarmDefinition, verdict: Verdict, points: list[PeriodValue],
                 old_state: str) -> str:
    used = [points[i] for i in reversed(verdict.evaluated)]  # newest first, as AWS lists them
    listed = ", ".join(f"{p.value} ({reason_time(p.start)})" for p in used)
    phrase = _PHRASES[alarm.comparison]
    treated = _TREATED_AS.get(alarm.treat_missing_data)
    if verdict.why == LOW_SAMPLES:
        return "Insufficient Data: too few samples for the percentile; the state is kept."
    if verdict.why == NO_DATA and verdict.state in (None, INSUFFICIENT_DATA):
        return (f"Insufficient Data: {_plural(verdict.filled, 'datapoint')} "
                f"{_was(verdict.filled)} unknown.")
    if verdict.why == NO_DATA:
        return (f"Threshold Crossed: no datapoints were received for "
                f"{_plural(verdict.filled, 'period')} and "
                f"{_plural(verdict.filled, 'missing datapoint')} {_was(verdict.filled)} "
                f"treated as [{treated}].")
    if verdict.why == UNKNOWN:
        return (f"Insufficient Data: {_plural(len(used), 'datapoint')} [{listed}] "
                f"{_was(len(used))} {phrase} the threshold ({alarm.threshold}) and "
                f"{_plural(verdict.filled, 'datapoint')} {_was(verdict.filled)} unknown.")
    fills = ""
    if verdict.filled and treated:
        fills = (f" and {_plural(verdict.filled, 'missing datapoint')} "
                 f"{_was(verdict.filled)} treated as [{treated}]")
    total = len(used) + (verdict.filled if fills else 0)
    if verdict.state == ALARM:
        premature = (" (premature alarm: the oldest breaching datapoint is old enough and none "
                     "since is non-breaching)" if verdict.why == PREMATURE else "")
        return (f"Threshold Crossed: {verdict.breaching} out of the last "
                f"{total} datapoints [{listed}]{fills} {_was(verdict.breaching)} "
                f"{phrase} the threshold ({alarm.threshold}) (minimum "
                f"{_plural(alarm.datapoints_to_alarm, 'datapoint')} for {old_state} -> ALARM "
                f"transition){premature}.")
    calm = total - verdict.breaching
    needed = max(1, total - alarm.datapoints_to_alarm + 1)
    return (f"Threshold Crossed: {calm} out of the last {total} datapoints "
            f"[{listed}]{fills} {_was(calm)} not {phrase} the threshold ({alarm.threshold}) "
            f"(minimum {_plural(needed, 'datapoint')} for {old_state} -> OK transition).")


def reason_data(alarm: AlarmDefinition, verdict: Verdict, points: list[PeriodValue],
                now: float) -> dict[str, Any]:
    used = [points[i] for i in verdict.evaluated]
    data: dict[str, Any] = {"version": "1.0", "queryDate": reason_data_time(now)}
    if points:
        data["startDate"] = reason_data_time(points[0].start)
    data["extendedStatistic" if alarm.is_percentile else "statistic"] = alarm.statistic
    if alarm.unit:
        data["unit"] = alarm.unit
    data.update({
        "period": alarm.period,
        "recentDatapoints": [p.value for p in used],
        "threshold": alarm.threshold,
        "evaluatedDatapoints": [
            {"timestamp": reason_data_time(p.start), "sampleCount": p.sample_count,
             "value": p.value} for p in reversed(used)],
    })
    return data
