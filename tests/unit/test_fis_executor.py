"""The FIS experiment and action state machines of the local executor, over fake actions on
a fast simulated clock (one simulated minute = 0.1 wall seconds)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.unit.fis_fakes import (
    ALARM,
    Recorder,
    definition,
    harness,
    real,
    until,
    wait_action,
)
from tradai.clock import Clock
from tradai_sim.cloud.fis.model import ExperimentRun, IllegalTransition
from tradai_sim.cloud.fis.targets import Resource

INSTANCE = Resource("arn:aws:ec2:eu-central-1:123456789012:instance/i-1", "aws:ec2:instance",
                    "i-1")
NAT_TARGET = {"Nat": {"resourceType": "aws:ec2:instance", "resourceTags": {"Name": "nat"},
                      "selectionMode": "ALL"}}


def statuses(run: ExperimentRun, kind: str = "experiment", action: str | None = None) -> list[str]:
    """The state changes (not the detail events) of the experiment or one action."""
    return [e["status"] for e in run.timeline
            if e["kind"] == kind and (action is None or e.get("action") == action)
            and e["status"] not in ("injected", "failing")]


def test_experiment_goes_initiating_running_completed_with_aws_reasons(tmp_path: Path) -> None:
    """https://docs.aws.amazon.com/fis/latest/userguide/view-experiment-progress.html (states)
    and https://docs.aws.amazon.com/code-library/latest/ug/cli_2_fis_code_examples.html
    ("Experiment is initiating.", "Experiment completed.", "Action was completed.")"""
    with harness(tmp_path) as h:
        fresh = ExperimentRun.new("E", "T", definition({"Wait": wait_action()}), Clock(), 1)
        assert (fresh.actions["Wait"].status, fresh.actions["Wait"].reason) == (
            "pending", "Initial state")
        run = h.start(definition({"Wait": wait_action("PT2M")}))
        until(lambda: run.terminal)
        assert run.timeline[1]["reason"] == "Experiment is initiating."
        assert statuses(run) == ["pending", "initiating", "running", "completed"]
        assert run.reason == "Experiment completed."
        wait = run.actions["Wait"]
        assert statuses(run, "action", "Wait") == ["initiating", "running", "completed"]
        assert wait.reason.startswith("Action was completed.")
        assert wait.end_time - wait.start_time >= 120  # the duration, in simulated seconds
        assert run.end_time is not None and run.end_time >= wait.end_time


def test_durations_run_on_the_simulated_clock(tmp_path: Path) -> None:
    import time

    with harness(tmp_path) as h:
        began = time.time()
        run = h.start(definition({"Wait": wait_action("PT5M")}))
        until(lambda: run.terminal)
        assert time.time() - began < 300 / 600 * 4  # 5 simulated minutes at 600x, with slack


def test_actions_start_after_the_actions_they_name_complete(tmp_path: Path) -> None:
    """https://docs.aws.amazon.com/fis/latest/userguide/action-sequence.html (startAfter)"""
    with harness(tmp_path) as h:
        run = h.start(definition({"First": wait_action("PT1M"),
                                  "Second": wait_action("PT1M", after=["First"]),
                                  "Parallel": wait_action("PT1M")}))
        until(lambda: run.terminal)
        first, second, par = (run.actions[n] for n in ("First", "Second", "Parallel"))
        assert second.start_time >= first.end_time
        assert par.start_time < first.end_time  # no startAfter: runs at the start
        assert [c for c in Recorder.calls if c[0] == "start"][-1] == ("start", "Second")


def test_target_resolving_to_nothing_fails_the_experiment(tmp_path: Path) -> None:
    """https://docs.aws.amazon.com/fis/latest/userguide/targets.html ("If no targets are
    found, the experiment fails.")"""
    terminate = {"actionId": "aws:ec2:terminate-instances", "targets": {"Instances": "Nat"}}
    with harness(tmp_path) as h:
        run = h.start(definition({"Kill": terminate}, NAT_TARGET))
        until(lambda: run.terminal)
        assert run.status == "failed"
        assert run.reason == "Target resolution returned no resources for target(s) 'Nat'."
        assert run.actions["Kill"].status == "cancelled"
        assert Recorder.calls == []  # nothing injected


def test_empty_target_in_skip_mode_skips_its_actions(tmp_path: Path) -> None:
    """https://docs.aws.amazon.com/fis/latest/userguide/experiment-options.html
    (emptyTargetResolutionMode skip)"""
    terminate = {"actionId": "aws:ec2:terminate-instances", "targets": {"Instances": "Nat"}}
    with harness(tmp_path) as h:
        run = h.start(definition({"Kill": terminate, "Wait": wait_action()}, NAT_TARGET,
                                 emptyTargetResolutionMode="skip"))
        until(lambda: run.terminal)
        assert run.status == "completed"
        assert run.actions["Kill"].status == "skipped"
        assert "'Nat'" not in run.actions["Kill"].reason and "Nat" in run.actions["Kill"].reason
        assert run.actions["Wait"].status == "completed"
        assert ("start", "Kill") not in Recorder.calls


def test_resolved_targets_and_the_seed_are_recorded(tmp_path: Path) -> None:
    """https://docs.aws.amazon.com/fis/latest/userguide/list-experiment-resolved-targets.html"""
    terminate = {"actionId": "aws:ec2:terminate-instances", "targets": {"Instances": "Nat"}}
    with harness(tmp_path, resources={"Nat": [INSTANCE]}) as h:
        run = h.start(definition({"Kill": terminate}, NAT_TARGET), tags={"tradai:seed": "99"})
        until(lambda: run.terminal)
        assert run.status == "completed" and run.seed == 99
        history = h.executor.history(run.id)[0]
        assert history["resolved_targets"] == {"Nat": [INSTANCE.arn]}
        assert history["seed"] == 99
        assert all({"sim", "wall", "sim_iso", "wall_iso"} <= e.keys() for e in history["timeline"])
        other = h.start(definition({"W": wait_action()}))
        assert other.seed == 7  # the executor's base seed when no tag fixes one


def test_stop_experiment_cancels_pending_actions_and_undoes_running_ones(tmp_path: Path) -> None:
    """https://docs.aws.amazon.com/fis/latest/userguide/stop-experiment.html and
    https://docs.aws.amazon.com/fis/latest/APIReference/API_ExperimentActionState.html"""
    with harness(tmp_path) as h:
        run = h.start(definition({"Long": wait_action("PT10M"),
                                  "Later": wait_action("PT1M", after=["Long"])}))
        until(lambda: run.actions["Long"].status == "running")
        h.executor.stop(run.id)
        assert run.status in ("stopping", "stopped")
        until(lambda: run.terminal)
        assert statuses(run)[-2:] == ["stopping", "stopped"]
        assert run.reason == "Experiment stopped."
        assert statuses(run, "action", "Long")[-2:] == ["stopping", "stopped"]
        assert run.actions["Long"].reason == "Action was stopped. Nothing left behind."
        assert run.actions["Later"].status == "cancelled"
        assert run.actions["Later"].reason == "The experiment stopped before the action started."
        assert ("end", "Long") in Recorder.calls and ("start", "Later") not in Recorder.calls
        assert run.end_time - run.start_time < 600  # stopped well before the 10 minutes


def test_stopping_a_finished_experiment_changes_nothing(tmp_path: Path) -> None:
    with harness(tmp_path) as h:
        run = h.start(definition({"Wait": wait_action()}))
        until(lambda: run.terminal)
        h.executor.stop(run.id)
        assert run.status == "completed"


def test_stop_condition_alarm_in_alarm_stops_the_experiment(tmp_path: Path) -> None:
    """https://docs.aws.amazon.com/fis/latest/userguide/stop-conditions.html ("If a stop
    condition is triggered during an experiment, AWS FIS stops the experiment.")"""
    stop = [{"source": "aws:cloudwatch:alarm", "value": ALARM}]
    with harness(tmp_path) as h:
        run = h.start(definition({"Long": wait_action("PT10M")}, stop=stop))
        until(lambda: run.actions["Long"].status == "running")
        h.executor.check_stop_conditions()
        assert run.status == "running"  # alarm OK: nothing happens
        h.alarms[ALARM] = "ALARM"
        h.executor.check_stop_conditions()
        until(lambda: run.terminal)
        assert run.status == "stopped"
        assert run.reason == f"Experiment stopped by stop condition: alarm {ALARM} is in ALARM " \
                             "state."
        assert statuses(run)[-2:] == ["stopping", "stopped"]
        assert run.actions["Long"].status == "stopped"


def test_alarm_already_in_alarm_stops_the_experiment_before_any_fault(tmp_path: Path) -> None:
    stop = [{"source": "aws:cloudwatch:alarm", "value": ALARM}]
    with harness(tmp_path) as h:
        h.alarms[ALARM] = "ALARM"
        run = h.start(definition({"Wait": wait_action()}, stop=stop))
        until(lambda: run.terminal)
        assert run.status == "stopped" and run.actions["Wait"].status == "cancelled"
        assert Recorder.calls == []


def test_missing_stop_condition_alarm_or_role_fails_the_experiment(tmp_path: Path) -> None:
    missing = "arn:aws:cloudwatch:eu-central-1:123456789012:alarm:nope"
    with harness(tmp_path) as h:
        run = h.start(definition({"W": wait_action()},
                                 stop=[{"source": "aws:cloudwatch:alarm", "value": missing}]))
        until(lambda: run.terminal)
        assert run.status == "failed" and missing in run.reason
        h.roles.clear()
        run = h.start(definition({"W": wait_action()}))
        until(lambda: run.terminal)
        assert run.status == "failed" and "Unable to assume role" in run.reason


def test_a_failing_action_fails_the_experiment_and_stops_the_others(tmp_path: Path) -> None:
    """https://docs.aws.amazon.com/fis/latest/userguide/experiments.html ("An action cannot
    be completed because of an error")"""
    with harness(tmp_path) as h:
        Recorder.fail_start.add("Broken")
        run = h.start(definition({"Long": wait_action("PT10M"),
                                  "Broken": wait_action("PT1M", after=["Short"]),
                                  "Short": wait_action("PT1M")}))
        until(lambda: run.terminal)
        assert run.status == "failed"
        assert run.reason == "Action 'Broken' (aws:fis:wait) failed: Broken cannot start"
        assert run.actions["Broken"].status == "failed"
        assert run.actions["Broken"].reason == "Broken cannot start"
        assert run.actions["Long"].status == "stopped"
        assert ("end", "Long") in Recorder.calls


def test_an_undo_that_fails_marks_the_action_failed(tmp_path: Path) -> None:
    with harness(tmp_path) as h:
        Recorder.fail_end.add("W")
        run = h.start(definition({"W": wait_action()}))
        until(lambda: run.terminal)
        assert run.status == "failed" and run.actions["W"].status == "failed"
        assert run.actions["W"].reason.startswith("Could not end the fault: undo broke.")


def test_missing_effector_fails_the_action_with_a_reason_naming_it(tmp_path: Path) -> None:
    subnet = Resource("arn:aws:ec2:eu-central-1:1:subnet/subnet-1", "aws:ec2:subnet", "subnet-1")
    action = {"actionId": "aws:network:disrupt-connectivity", "targets": {"Subnets": "S"},
              "parameters": {"duration": "PT2M", "scope": "all"}}
    targets = {"S": {"resourceType": "aws:ec2:subnet", "resourceTags": {"Name": "s"},
                     "selectionMode": "ALL"}}
    with harness(tmp_path, resources={"S": [subnet]}, create=real) as h:
        run = h.start(definition({"Cut": action}, targets))
        until(lambda: run.terminal)
        assert run.status == "failed"
        assert run.actions["Cut"].reason == (
            "the network part (subnet connectivity) is not available in this cloud "
            "(ctx.resources['_network'] is not installed)")


def test_skip_all_actions_mode_resolves_targets_and_runs_nothing(tmp_path: Path) -> None:
    with harness(tmp_path) as h:
        d = definition({"W": wait_action()})
        d["actionsMode"] = "skip-all"
        run = h.start(d)
        until(lambda: run.terminal)
        assert run.status == "completed" and run.actions["W"].status == "skipped"
        assert Recorder.calls == []


def test_illegal_transitions_are_refused() -> None:
    run = ExperimentRun.new("E", "T", {"actions": {"A": wait_action()}}, Clock(), 1)
    with pytest.raises(IllegalTransition):
        run.to("completed", "too early")
    with pytest.raises(IllegalTransition):
        run.action_to(run.actions["A"], "stopped", "never started")
