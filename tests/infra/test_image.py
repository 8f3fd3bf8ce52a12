"""One platform image: every ECS service and task definition runs the image ``tradai:image``
names, from the one ECR repository (or the ECR URI given), and moving or missing references are
refused before anything is declared."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.infra.conftest import Deployed
from tests.infra.mocks import ACCOUNT, STACK, run_program
from tradai_infra.config import load_settings
from tradai_infra.errors import InfraConfigError
from tradai_infra.image import parse_image

GOOD = {"aws:region": "eu-central-1",
        "tradai:availabilityZones": '["eu-central-1a", "eu-central-1b"]'}
OWN = f"tradai-{STACK}-platform"
DIGEST = "sha256:" + "ab" * 32
BUILD_ACCOUNT = "210987654321.dkr.ecr.eu-west-1.amazonaws.com"


def _images(deployed: Deployed) -> dict[str, str]:
    out = {}
    for td in deployed.of_type("aws:ecs/taskDefinition:TaskDefinition"):
        [container] = json.loads(td.inputs["containerDefinitions"])
        out[td.inputs["family"]] = container["image"]
    return out


def test_every_service_and_task_runs_the_configured_image(deployed: Deployed) -> None:
    images = _images(deployed)
    families = {deployed.name(n) for n in [s.name for s in deployed.topo.services]
                + [t.name for t in deployed.topo.task_definitions]}
    assert families <= set(images)
    # The mocks give a repository the URL <account>.dkr.ecr.mock/<name>.
    assert set(images.values()) == {f"{ACCOUNT}.dkr.ecr.mock/{OWN}:1.0.0"}
    [repo] = deployed.of_type("aws:ecr/repository:Repository")
    assert repo.inputs["imageTagMutability"] == "IMMUTABLE"


def test_a_digest_and_another_ecr_repository(topo: Any, settings: Any) -> None:
    from dataclasses import replace

    from tradai_infra.program import deploy

    pinned = replace(settings, image=parse_image(f"{BUILD_ACCOUNT}/tradai@{DIGEST}", OWN))
    deployed = Deployed(run_program(lambda: deploy(pinned, topo)), topo)
    assert set(_images(deployed).values()) == {f"{BUILD_ACCOUNT}/tradai@{DIGEST}"}
    # The execution role may pull that repository only.
    role = deployed.one("aws:iam/role:Role", deployed.name("ecs-execution"))
    pulls = [s for s in deployed.role_policy(role)["Statement"]
             if "ecr:BatchGetImage" in s["Action"]]
    assert [s["Resource"] for s in pulls] in (
        ["arn:aws:ecr:eu-west-1:210987654321:repository/tradai"],
        [["arn:aws:ecr:eu-west-1:210987654321:repository/tradai"]])


@pytest.mark.parametrize(("value", "expected"), [
    (f"{OWN}:1.2.3", (OWN, ":1.2.3", None)),
    (f"{OWN}@{DIGEST}", (OWN, f"@{DIGEST}", None)),
    (f"{BUILD_ACCOUNT}/team/tradai:2026.12.1", ("team/tradai", ":2026.12.1", BUILD_ACCOUNT)),
])
def test_accepted_references(value: str, expected: tuple[str, str, str | None]) -> None:
    ref = parse_image(value, OWN)
    assert (ref.repository, ref.reference, ref.registry) == expected


@pytest.mark.parametrize(("value", "message"), [
    (None, "tradai:image is not set"),
    ("", "tradai:image is not set"),
    (f"{OWN}:latest", "moving tag 'latest'"),
    (OWN, "no tag or digest"),
    (f"{BUILD_ACCOUNT}/tradai", "no tag or digest"),
    (f"{BUILD_ACCOUNT}/tradai:latest", "moving tag 'latest'"),
    (f"{OWN}@sha256:abc", "malformed digest"),
    (f"{OWN}:bad tag", "invalid tag"),
    ("docker.io/library/tradai:1.0", "is not in ECR"),
    ("someone-else:1.0", "neither this stack's ECR repository"),
])
def test_refused_references_name_the_key(value: str | None, message: str) -> None:
    with pytest.raises(InfraConfigError, match="tradai:image") as err:
        parse_image(value, OWN)
    assert message in str(err.value)


def test_stack_config_without_image_stops_before_any_resource() -> None:
    with pytest.raises(InfraConfigError, match=r"tradai:image is not set: run `pulumi config"):
        load_settings(STACK, GOOD.get)
    with pytest.raises(InfraConfigError, match="latest"):
        load_settings(STACK, {**GOOD, "tradai:image": f"{OWN}:latest"}.get)
    assert load_settings(STACK, {**GOOD, "tradai:image": f"{OWN}:0.1.0"}.get).image.uri(
        "r.example/x") == "r.example/x:0.1.0"
