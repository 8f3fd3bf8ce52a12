"""The FIS API of the emulator with the local executor behind it: templates validated at
creation, experiments reported with the executor's states and resolved targets."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from tests.unit.fis_fakes import ROLE, Harness, definition, harness, until, wait_action
from tradai_sim.cloud import emulator
from tradai_sim.cloud.fis import moto_hooks
from tradai_sim.cloud.fis.targets import Resource
from tradai_sim.cloud.moto_patches import PATCHES

INSTANCE = Resource("arn:aws:ec2:eu-central-1:123456789012:instance/i-1", "aws:ec2:instance",
                    "i-1")


def _not_found(environ: dict[str, Any], start_response: Any) -> Any:
    start_response("404 Not Found", [])
    return [b""]


@pytest.fixture(scope="module")
def fis_client() -> Iterator[Any]:
    patcher = pytest.MonkeyPatch()
    for patch in PATCHES:  # only FIS's: the other parts' patches are not under test here
        if patch.target.startswith("moto.fis."):
            owner, attr, original = patch.resolve()
            patcher.setattr(owner, attr, patch.make(original) if patch.wrap else patch.make())
    server = emulator.EmulatorServer("127.0.0.1", 0, _not_found)
    server.start()
    yield boto3.client("fis", endpoint_url=f"http://127.0.0.1:{server.port}",
                       region_name="eu-central-1", aws_access_key_id="testing",
                       aws_secret_access_key="testing",
                       config=Config(retries={"total_max_attempts": 1}))
    server.stop()
    patcher.undo()


@pytest.fixture()
def fis(tmp_path: Path, fis_client: Any) -> Iterator[tuple[Any, Harness]]:
    with harness(tmp_path, resources={"Nat": [INSTANCE]}) as h:
        moto_hooks.install(h.executor)
        try:
            yield fis_client, h
        finally:
            moto_hooks.install(None)


def create(client: Any, **body: Any) -> str:
    return str(client.create_experiment_template(**body)["experimentTemplate"]["id"])


def test_create_experiment_template_refuses_an_invalid_template(fis: tuple[Any, Harness]
                                                                ) -> None:
    """https://docs.aws.amazon.com/fis/latest/APIReference/API_CreateExperimentTemplate.html
    (ValidationException)"""
    client, _ = fis
    body = definition({"W": {"actionId": "aws:fis:wait", "parameters": {"duration": "soon"}}})
    del body["experimentOptions"]
    with pytest.raises(ClientError) as err:
        create(client, description="bad", **body)
    assert err.value.response["Error"]["Code"] == "ValidationException"
    assert err.value.response["Error"]["Message"].startswith(
        "actions.W.parameters.duration: 'soon' is not an ISO 8601 duration")
    assert not [t for t in client.list_experiment_templates()["experimentTemplates"]
                if t["description"] == "bad"]


def test_update_is_validated_as_the_template_would_be(fis: tuple[Any, Harness]) -> None:
    client, _ = fis
    body = definition({"W": wait_action()})
    del body["experimentOptions"]
    template_id = create(client, description="ok", **body)
    with pytest.raises(ClientError, match="ValidationException"):
        client.update_experiment_template(id=template_id, actions={
            "W": {"actionId": "aws:fis:wait", "parameters": {"duration": "PT13H"}}})


def test_experiments_report_the_executors_states_and_resolved_targets(
        fis: tuple[Any, Harness]) -> None:
    """https://docs.aws.amazon.com/fis/latest/userguide/view-experiment-progress.html and
    https://docs.aws.amazon.com/fis/latest/userguide/list-experiment-resolved-targets.html"""
    client, _ = fis
    targets = {"Nat": {"resourceType": "aws:ec2:instance", "resourceTags": {"Name": "nat"},
                       "selectionMode": "ALL"}}
    actions = {"Wait": wait_action("PT1M"),
               "Kill": {"actionId": "aws:ec2:terminate-instances",
                        "targets": {"Instances": "Nat"}, "startAfter": ["Wait"]}}
    template_id = create(client, description="wait then kill", roleArn=ROLE, targets=targets,
                         actions=actions, stopConditions=[{"source": "none"}])
    started = client.start_experiment(experimentTemplateId=template_id)["experiment"]
    assert started["state"]["status"] in ("initiating", "running")
    exp_id = started["id"]
    done = until(lambda: (e := client.get_experiment(id=exp_id)["experiment"])["state"][
        "status"] == "completed" and e)
    assert done["state"]["reason"] == "Experiment completed."
    assert done["actions"]["Kill"]["state"]["status"] == "completed"
    assert done["actions"]["Kill"]["startAfter"] == ["Wait"]
    assert done["actions"]["Kill"]["startTime"] >= done["actions"]["Wait"]["endTime"]
    assert done["endTime"] >= done["startTime"]
    [summary] = [e for e in client.list_experiments()["experiments"] if e["id"] == exp_id]
    assert summary["state"]["status"] == "completed"
    resolved = client.list_experiment_resolved_targets(experimentId=exp_id)["resolvedTargets"]
    assert resolved == [{"resourceType": "aws:ec2:instance", "targetName": "Nat",
                         "targetInformation": {"arn": INSTANCE.arn}}]


def test_stop_experiment_goes_through_stopping_to_stopped(fis: tuple[Any, Harness]) -> None:
    """https://docs.aws.amazon.com/fis/latest/APIReference/API_StopExperiment.html"""
    client, _ = fis
    body = definition({"Long": wait_action("PT12H")})
    del body["experimentOptions"]
    exp_id = client.start_experiment(experimentTemplateId=create(
        client, description="long", **body))["experiment"]["id"]
    until(lambda: client.get_experiment(id=exp_id)["experiment"]["actions"]["Long"]["state"][
        "status"] == "running")
    state = client.stop_experiment(id=exp_id)["experiment"]["state"]
    assert state["status"] in ("stopping", "stopped")
    final = until(lambda: (e := client.get_experiment(id=exp_id)["experiment"])["state"][
        "status"] == "stopped" and e)
    assert final["actions"]["Long"]["state"]["status"] == "stopped"
