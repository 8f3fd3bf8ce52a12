"""Where a backtest's time went: instants on the job item, stages between them (issue 15).

Each component writes the instant it knows, read from the platform clock (``tradai.clock``),
as a top-level number attribute ``at_<instant>`` of the workflow-state item (a top-level
attribute, not a map: an UpdateExpression cannot SET a path inside a map that may not exist
yet, and every writer here may be the first):

- ``submitted``: the backend, as it records the ticket;
- ``dequeued``: the backtest consumer, as it registers the job (just before StartExecution);
- ``validated``: validate-strategy, as it returns; ``data_ready``: data-collection-proxy, as
  it returns (both passed on through the execution's state; update-status RUNNING writes them);
- ``task_started``: the strategy container's process, at its first line;
- ``freqtrade_started`` / ``freqtrade_finished``: the container, around Freqtrade's run;
- ``published``: the container, once the results are in S3, MLflow and on the item;
- ``finished``: whoever writes the terminal status (update-status, a cancel, a start failure).

``timings`` turns them into seconds per stage, in the platform clock's seconds (wall seconds
in AWS; a dilated local clock shows simulated seconds). A stage whose two ends are not both
recorded (a job that failed early, an item written before this existed) is left out.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

PREFIX = "at_"
INSTANTS = ("submitted", "dequeued", "validated", "data_ready", "task_started",
            "freqtrade_started", "freqtrade_finished", "published", "finished")
# (stage, from instant, to instant): consecutive, so the stages add up to ``total``.
STAGES = (
    ("queue", "submitted", "dequeued"),  # SQS FIFO and the consumer's poll
    ("validation", "dequeued", "validated"),  # StartExecution + validate-strategy
    ("data", "validated", "data_ready"),  # EnsureData (data-collection-proxy)
    ("task_start", "data_ready", "task_started"),  # update-status RUNNING, RunTask, process
    ("preparation", "task_started", "freqtrade_started"),  # imports, registry, ArcticDB read
    ("freqtrade", "freqtrade_started", "freqtrade_finished"),
    ("publishing", "freqtrade_finished", "published"),  # result files, MLflow, S3, the item
    ("completion", "published", "finished"),  # task exit, the .sync poll, update-status
)


def attr(instant: str) -> str:
    """The item attribute holding ``instant``."""
    if instant not in INSTANTS:
        raise ValueError(f"unknown instant {instant!r}; one of {', '.join(INSTANTS)}")
    return PREFIX + instant


def stamp(seconds: float) -> Decimal:
    """An instant as DynamoDB stores it: epoch seconds to the millisecond."""
    return Decimal(f"{float(seconds):.3f}")


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float | Decimal) and not isinstance(value, bool)


def instants(item: Mapping[str, Any]) -> dict[str, float]:
    """The recorded instants of a job item (numbers only; anything else is ignored)."""
    found = {}
    for name in INSTANTS:
        value = item.get(PREFIX + name)
        if _is_number(value):
            found[name] = float(value)
    return found


def timings(item: Mapping[str, Any]) -> dict[str, float]:
    """Seconds per stage (in ``STAGES`` order), then ``total`` (submitted -> finished)."""
    at = instants(item)
    out = {stage: round(at[end] - at[start], 3) for stage, start, end in STAGES
           if start in at and end in at}
    if "submitted" in at and "finished" in at:
        out["total"] = round(at["finished"] - at["submitted"], 3)
    return out


def reported(event: Mapping[str, Any], names: tuple[str, ...]) -> dict[str, Decimal]:
    """Instants a workflow step passed on (``{"validated": 1.7e9, ...}``), as attributes;
    a missing or non-numeric one is skipped: timings never fail a job."""
    given = event.get("stages")
    out: dict[str, Decimal] = {}
    if not isinstance(given, Mapping):
        return out
    for name in names:
        value = given.get(name)
        if _is_number(value):
            out[attr(name)] = stamp(float(value))
    return out
