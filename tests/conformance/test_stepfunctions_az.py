"""Step Functions conformance that needs an Availability Zone down: in a cloud of its own.

An AZ power outage leaves every single-task service in the other AZ afterwards (ECS does not
rebalance a service of one task), which later tests sharing a cloud would find; so this module
starts and stops its own.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from tests.conformance.test_stepfunctions import (  # noqa: F401 - role, job_definition: fixtures
    CAUGHT,
    entered,
    finished,
    job_definition,
    machine,
    role,
    run_task_state,
    start,
)
from tests.integration.cloud import RunningCloud, start_cloud


@pytest.fixture(scope="module")
def cloud(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningCloud]:
    state_dir: Path = tmp_path_factory.mktemp("sfn-az-cloud")
    running = start_cloud(state_dir, time_scale=20.0)
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture
def zone_down(cloud: RunningCloud) -> Iterator[str]:
    """A power outage of one AZ, ended after the test."""
    az = sorted(cloud.status()["resources"]["subnets"]["private"])[-1]
    r = requests.post(f"{cloud.endpoint}/_sim/zones", json={"az": az, "kind": "power",
                                                             "label": "sfn-conformance"},
                      timeout=30)
    assert r.status_code == 200, r.text
    try:
        yield az
    finally:
        requests.delete(f"{cloud.endpoint}/_sim/zones", params={"id": r.json()["id"]},
                        timeout=30)


def test_run_task_sync_failures_fail_the_state_with_amazonecs_unknown(
        cloud: RunningCloud, role: str, job_definition: str,  # noqa: F811 - fixtures
        zone_down: str) -> None:
    """RunTask can answer HTTP 200 with a non-empty Failures field; with Run a Job (.sync)
    "the task is failed with an AmazonECS.Unknown error", so the workflow's Catch sees it.
    https://docs.aws.amazon.com/step-functions/latest/dg/connect-ecs.html"""
    subnet = cloud.status()["resources"]["subnets"]["private"][zone_down]
    states = {"Run": run_task_state(
        cloud, job_definition, [subnet], {}, Next="Done",
        Catch=[{"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "Caught"}]),
        "Done": {"Type": "Pass", "End": True}, **CAUGHT}
    done = finished(cloud, start(cloud, machine(cloud, role, states, "Run")))
    assert done["status"] == "SUCCEEDED"
    assert entered(done) == ["Run", "Caught"]
    error = json.loads(done["output"])["error"]
    assert error["Error"] == "AmazonECS.Unknown"
    cause = json.loads(error["Cause"])
    assert cause["Tasks"] == []
    assert cause["Failures"][0]["Reason"].startswith("Capacity is unavailable at this time")
