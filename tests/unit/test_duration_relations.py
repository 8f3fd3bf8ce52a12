"""AWS's relations between durations, for every queue, function and state machine of the spec,
and the clear error a spec that breaks one gets."""

from __future__ import annotations

import copy
from importlib import resources
from typing import Any

import pytest
import yaml

from tradai.topology import SpecError, default_topology
from tradai.topology.load import parse_topology
from tradai.topology.relations import (
    MIN_RECEIVES_BEFORE_DLQ,
    VISIBILITY_PER_TIMEOUT,
    _lambda_of,
    _states,
    duration_relations,
    retry_backoff_seconds,
)
from tradai.workflows.render import load_asl

SPEC = default_topology()
QUEUES = {q.name: q for q in SPEC.queues}
TIMEOUTS = {fn.name: fn.timeout for fn in SPEC.lambdas}
SQS_CONSUMERS = [fn for fn in SPEC.lambdas if fn.trigger.type == "sqs"]


@pytest.fixture()
def raw() -> dict[str, Any]:
    return yaml.safe_load(resources.files("tradai.topology").joinpath("topology.yaml")
                          .read_text())


def test_the_shipped_spec_keeps_every_relation() -> None:
    assert duration_relations(SPEC) == []


@pytest.mark.parametrize("fn", SQS_CONSUMERS, ids=lambda f: f.name)
def test_visibility_timeout_is_at_least_six_times_the_consumers_timeout(fn: Any) -> None:
    """https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-configure.html"""
    q = QUEUES[fn.trigger.queue]
    assert q.visibility_timeout >= VISIBILITY_PER_TIMEOUT * fn.timeout, (q.name, fn.name)


@pytest.mark.parametrize("q", [q for q in SPEC.queues if q.dlq], ids=lambda q: q.name)
def test_a_dead_letter_queue_keeps_messages_longer_than_its_source(q: Any) -> None:
    """https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-dead-letter-queues.html"""
    assert QUEUES[q.dlq].retention_seconds > q.retention_seconds


def test_the_nat_lifecycle_hook_outlasts_its_function() -> None:
    """https://docs.aws.amazon.com/autoscaling/ec2/APIReference/API_PutLifecycleHook.html"""
    hook = SPEC.network.nat.lifecycle_hook
    assert 30 <= hook.heartbeat_timeout <= 7200
    assert hook.heartbeat_timeout >= TIMEOUTS[hook.target_lambda]


@pytest.mark.parametrize("m", SPEC.state_machines, ids=lambda m: m.name)
def test_state_machine_durations_fit_the_execution(m: Any) -> None:
    """https://docs.aws.amazon.com/step-functions/latest/dg/state-task.html"""
    asl = load_asl(m.asl)
    assert asl["TimeoutSeconds"] == m.timeout_seconds
    states = dict(_states(asl))
    assert states, m.name
    invoked = {_lambda_of(s) for s in states.values()} - {None}
    assert invoked <= set(TIMEOUTS), invoked - set(TIMEOUTS)
    for name, state in states.items():
        if "TimeoutSeconds" in state:
            assert state["TimeoutSeconds"] < m.timeout_seconds, name
        for retry in state.get("Retry") or []:
            assert retry_backoff_seconds(retry) < m.timeout_seconds, (name, retry)


def test_retry_backoff_follows_the_documented_defaults_and_cap() -> None:
    """https://docs.aws.amazon.com/step-functions/latest/dg/concepts-error-handling.html:
    IntervalSeconds 1, MaxAttempts 3, BackoffRate 2.0 by default; MaxDelaySeconds caps each."""
    assert retry_backoff_seconds({}) == 1 + 2 + 4
    assert retry_backoff_seconds({"IntervalSeconds": 10, "MaxAttempts": 4,
                                  "BackoffRate": 3, "MaxDelaySeconds": 50}) == 10 + 30 + 50 + 50


def _consumer(raw: dict[str, Any], name: str) -> dict[str, Any]:
    return next(f for f in raw["lambdas"] if f["name"] == name)


def test_a_queue_whose_visibility_is_under_six_consumer_timeouts_is_refused(raw: dict) -> None:
    bad = copy.deepcopy(raw)
    next(q for q in bad["queues"] if q["name"] == "backtest-queue.fifo")[
        "visibility_timeout"] = 179  # backtest-consumer: 30 s
    with pytest.raises(SpecError, match=r"backtest-queue\.fifo.*6 x.*backtest-consumer"):
        parse_topology(bad)


@pytest.mark.parametrize("fn", SQS_CONSUMERS, ids=lambda f: f.name)
def test_a_queue_feeding_a_function_allows_five_receives_before_its_dlq(fn: Any) -> None:
    """https://docs.aws.amazon.com/lambda/latest/dg/sqs-retries.html: "Set the maxReceiveCount
    on the source queue's redrive policy to at least 5"."""
    q = QUEUES[fn.trigger.queue]
    assert q.dlq and q.max_receive_count >= MIN_RECEIVES_BEFORE_DLQ, (q.name, fn.name)


def test_a_queue_that_gives_up_after_three_receives_is_refused(raw: dict) -> None:
    bad = copy.deepcopy(raw)
    next(q for q in bad["queues"] if q["name"] == "backtest-queue.fifo")[
        "max_receive_count"] = 3
    with pytest.raises(SpecError, match=r"backtest-queue\.fifo.*max_receive_count 3.*"
                                        r"backtest-consumer"):
        parse_topology(bad)


def test_a_dead_letter_queue_that_expires_first_is_refused(raw: dict) -> None:
    bad = copy.deepcopy(raw)
    next(q for q in bad["queues"] if q["name"] == "backtest-dlq.fifo")[
        "retention_seconds"] = 3600
    with pytest.raises(SpecError, match=r"backtest-queue\.fifo.*backtest-dlq\.fifo"):
        parse_topology(bad)


def test_a_lifecycle_hook_shorter_than_its_function_is_refused(raw: dict) -> None:
    bad = copy.deepcopy(raw)
    _consumer(bad, "update-nat-routes")["timeout"] = 400  # hook heartbeat: 300 s
    with pytest.raises(SpecError, match=r"lifecycle_hook.*update-nat-routes"):
        parse_topology(bad)


def test_a_state_machine_timeout_that_disagrees_with_its_asl_is_refused(raw: dict) -> None:
    bad = copy.deepcopy(raw)
    next(m for m in bad["state_machines"] if m["name"] == "backtest-workflow")[
        "timeout_seconds"] = 600
    with pytest.raises(SpecError, match=r"backtest-workflow.*TimeoutSeconds 7200"):
        parse_topology(bad)
