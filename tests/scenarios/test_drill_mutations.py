"""A drill must fail, naming the invariant, when the recovery it proves is broken.

Each case breaks one recovery mechanism on a stack of its own, runs the drill that relies on
it, and checks the run fails on that invariant (with its measured value and deadline).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import boto3
import pytest

from tradai_sim import ports
from tradai_sim.cloud.context import EMULATOR_CREDENTIALS
from tradai_sim.drill_cli import DEFAULT_TIME_SCALE
from tradai_sim.drills.runner import run_drill
from tradai_sim.stack import launcher
from tradai_sim.stack.state import StackRecord

pytestmark = pytest.mark.all_drills


def _client(state: Path, service: str) -> object:
    rec = StackRecord.read(state)
    assert rec is not None
    return boto3.client(service, endpoint_url=rec.endpoint, region_name="eu-central-1",
                        **{k.lower(): v for k, v in EMULATOR_CREDENTIALS.items()})


def _no_nat_hook(state: Path) -> None:
    """The launch lifecycle hook's EventBridge rule is gone: nobody repoints the routes."""
    events = _client(state, "events")
    rule = "tradai-local-nat-launch-hook"
    ids = [t["Id"] for t in events.list_targets_by_rule(Rule=rule)["Targets"]]  # type: ignore
    events.remove_targets(Rule=rule, Ids=ids)  # type: ignore[attr-defined]
    events.delete_rule(Name=rule)  # type: ignore[attr-defined]


def _no_nat_hook_endpoints(state: Path) -> None:
    """The VPC endpoints for EC2 and Auto Scaling are deleted (issue 16's NAT deadlock): once
    the NAT is gone, update-nat-routes, in a private subnet, reaches neither API
    (https://docs.aws.amazon.com/vpc/latest/privatelink/privatelink-access-aws-services.html),
    so nobody repoints the routes."""
    ec2 = _client(state, "ec2")
    region = "eu-central-1"
    found = ec2.describe_vpc_endpoints(Filters=[  # type: ignore[attr-defined]
        {"Name": "service-name", "Values": [f"com.amazonaws.{region}.ec2",
                                            f"com.amazonaws.{region}.autoscaling"]},
        {"Name": "vpc-endpoint-state", "Values": ["available"]}])["VpcEndpoints"]
    assert len(found) == 2, found
    ec2.delete_vpc_endpoints(  # type: ignore[attr-defined]
        VpcEndpointIds=[e["VpcEndpointId"] for e in found])


def _no_orphan_scanner(state: Path) -> None:
    """The orphan scanner's schedule is disabled."""
    _client(state, "events").disable_rule(Name="tradai-local-orphan-scanner")  # type: ignore


def _no_dlq_alarm_actions(state: Path) -> None:
    """The DLQ alarm's actions are disabled: it changes state but notifies nobody
    (https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_DisableAlarmActions.html)."""
    _client(state, "cloudwatch").disable_alarm_actions(  # type: ignore[attr-defined]
        AlarmNames=["tradai-local-backtest-dlq-not-empty"])


def _no_heartbeat_monitor(state: Path) -> None:
    """trading-heartbeat-check's schedule is disabled: nobody notices a silent session."""
    _client(state, "events").disable_rule(  # type: ignore[attr-defined]
        Name="tradai-local-trading-heartbeat-check")


def _slot_limit_raised(state: Path) -> None:
    """A misconfigured consumer holds fourteen backtest slots, past the spec's ten: the lease
    still works, but the limit the backlog drill checks no longer holds."""
    lam = _client(state, "lambda")
    name = "tradai-local-backtest-consumer"
    env = lam.get_function_configuration(FunctionName=name)[  # type: ignore[attr-defined]
        "Environment"]["Variables"]
    lam.update_function_configuration(  # type: ignore[attr-defined]
        FunctionName=name,
        Environment={"Variables": {**env, "TRADAI_BACKTEST_MAX_CONCURRENT": "14"}})


def _no_promote_access(state: Path) -> None:
    """promote-model's role loses its inline policy (a least-privilege policy missing its
    grants): its calls to Secrets Manager and DynamoDB are denied, as IAM denies what no policy
    allows (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic.html),
    so the retraining run cannot move the alias."""
    _client(state, "iam").delete_role_policy(  # type: ignore[attr-defined]
        RoleName="tradai-local-promote-model-fn", PolicyName="tradai-access")


@pytest.mark.timeout(1500)
@pytest.mark.parametrize(("drill", "breakage", "invariant", "timed"), [
    ("nat-failover", _no_nat_hook, "private-egress-restored", True),
    ("nat-failover", _no_nat_hook_endpoints, "private-egress-restored", True),
    ("orphan-scan", _no_orphan_scanner, "orphan-tasks-cleaned-up", True),
    # a count, not a deadline: the alarm notified exactly once
    ("dlq-replay", _no_dlq_alarm_actions, "backtest-dlq-not-empty-notified-once", False),
    # a count: no STALE alert at all (the run stops at the first invariant that fails)
    ("stale-heartbeat", _no_heartbeat_monitor, "frozen-stale-alert-once", False),
    # a peak against a limit (reported as the verdict's deadline)
    ("backlog", _slot_limit_raised, "task-limit-held", True),
    # a state, not a deadline: the drift run ends FAILED at promotion, the champion stays
    ("drift-retrain", _no_promote_access, "challenger-promoted", False),
])
def test_drill_fails_naming_the_invariant_when_its_recovery_is_broken(
        drill: str, breakage: Callable[[Path], None], invariant: str, timed: bool,
        tmp_path: Path) -> None:
    state = tmp_path / "stack"
    launcher.start(state, ports.free_port(), DEFAULT_TIME_SCALE)
    try:
        breakage(state)
        run = run_drill(drill, state, tmp_path / "report")
    finally:
        launcher.stop(state)
    assert not run.summary.ok
    failed = [o for o in run.outcomes if not o.ok]
    assert [o.name for o in failed] == [invariant]
    assert run.summary.failures[0].startswith(f"{invariant}: measured ")
    assert ("deadline" in run.summary.failures[0]) is timed
