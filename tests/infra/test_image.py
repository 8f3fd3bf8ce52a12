"""One platform image: every ECS service and task definition runs the image ``tradai:image``
names, from the one ECR repository (or the ECR URI given), and moving or missing references are
refused before anything is declared."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from tests.infra.conftest import Deployed
from tests.infra.mocks import ACCOUNT, STACK, run_program, secret_value
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


# -- tradai:buildImage: the program builds the Dockerfile and runs the pushed digest -------------

def _build_settings(settings: Any) -> Any:
    from dataclasses import replace

    return replace(settings, image=None)


def test_build_image_config_and_its_conflicts() -> None:
    built = load_settings(STACK, {**GOOD, "tradai:buildImage": "true"}.get)
    assert built.image is None and built.build_image
    with pytest.raises(InfraConfigError, match="tradai:buildImage is true and tradai:image"):
        load_settings(STACK, {**GOOD, "tradai:buildImage": "true",
                              "tradai:image": f"{OWN}:0.1.0"}.get)
    with pytest.raises(InfraConfigError, match="tradai:buildImage: expected true or false"):
        load_settings(STACK, {**GOOD, "tradai:buildImage": "yes"}.get)
    with pytest.raises(InfraConfigError, match="pulumi config set tradai:buildImage true"):
        load_settings(STACK, {**GOOD, "tradai:buildImage": "false"}.get)


def test_build_without_a_docker_engine_stops_before_any_resource(
        topo: Any, settings: Any, tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    from tests.infra.mocks import RecordingMocks
    from tradai_infra.program import deploy

    # Where Docker clients look: DOCKER_HOST, here a socket path nothing listens on.
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/docker.sock")
    mocks = RecordingMocks()
    with pytest.raises(InfraConfigError) as err:
        run_program(lambda: deploy(_build_settings(settings), topo), mocks)
    message = str(err.value)
    assert f"no Docker engine answers at DOCKER_HOST=unix://{tmp_path}/docker.sock" in message
    assert "pulumi config set tradai:image" in message  # the alternative
    assert mocks.resources == []


def test_engine_probe_follows_docker_host_and_the_default_socket() -> None:
    from tradai_infra.image_build import require_docker_engine

    seen: list[str] = []

    def refuse(address: str) -> None:
        seen.append(address)
        raise FileNotFoundError(2, "No such file or directory")

    default = re.escape("the default socket /var/run/docker.sock")
    with pytest.raises(InfraConfigError, match=default):
        require_docker_engine({}, refuse)
    with pytest.raises(InfraConfigError, match=re.escape("DOCKER_HOST=tcp://10.0.0.9:2375")):
        require_docker_engine({"DOCKER_HOST": "tcp://10.0.0.9:2375"}, refuse)
    assert seen == ["unix:///var/run/docker.sock", "tcp://10.0.0.9:2375"]
    require_docker_engine({"DOCKER_HOST": "unix:///x"}, lambda a: None)  # answers: no error


def test_every_task_definition_runs_the_built_image_by_digest(
        topo: Any, settings: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    from tests.infra.mocks import DOCKER_IMAGE, mock_digest
    from tradai_infra import image_build, program
    from tradai_infra.program import deploy

    monkeypatch.setattr(program, "require_docker_engine", lambda: None)  # an engine "answers"
    deployed = Deployed(run_program(lambda: deploy(_build_settings(settings), topo)), topo)
    [build] = deployed.of_type(DOCKER_IMAGE)
    repo_url = f"{ACCOUNT}.dkr.ecr.mock/{OWN}"
    digest = mock_digest(build.name)
    images = _images(deployed)
    families = {deployed.name(n) for n in [s.name for s in deployed.topo.services]
                + [t.name for t in deployed.topo.task_definitions]}
    assert families <= set(images)
    assert set(images.values()) == {f"{repo_url}@{digest}"}
    # ECS's digest form: sha256 and exactly 64 hex digits after it.
    assert re.fullmatch(r"sha256:[0-9a-f]{64}", digest)
    # The root Dockerfile's ECS stage (its last stage is compose's exchange simulator), for
    # Fargate's platform, pushed to the program's repository under a content tag, with an ECR
    # token as the registry login.
    inputs = build.inputs
    assert inputs["push"] is True and inputs["target"] == "runtime"
    assert inputs["platforms"] == ["linux/amd64"]
    assert inputs["dockerfile"]["location"] == str(image_build.ROOT / "Dockerfile")
    assert inputs["context"]["location"] == str(image_build.ROOT)
    assert inputs["tags"] == [f"{repo_url}:{image_build.content_tag()}"]
    # The token is a secret: the registry login reaches the state only encrypted.
    [registry] = secret_value(inputs["registries"])
    assert registry == {"address": repo_url, "username": "AWS", "password": "mock-ecr-token"}


def test_content_tag_changes_with_what_the_image_copies(tmp_path: Any) -> None:
    from tradai_infra.image_build import content_tag

    for name in ("Dockerfile", ".dockerignore", "pyproject.toml", "README.md"):
        (tmp_path / name).write_text(name)
    (tmp_path / "platform" / "tradai").mkdir(parents=True)
    (tmp_path / "platform" / "tradai" / "a.py").write_text("x = 1\n")
    first = content_tag(tmp_path)
    assert first.startswith("build-") and content_tag(tmp_path) == first
    (tmp_path / "platform" / "tradai" / "__pycache__").mkdir()
    (tmp_path / "platform" / "tradai" / "__pycache__" / "a.pyc").write_bytes(b"\0")
    (tmp_path / "sim").mkdir()
    (tmp_path / "sim" / "b.py").write_text("not in the runtime image\n")
    assert content_tag(tmp_path) == first
    (tmp_path / "platform" / "tradai" / "a.py").write_text("x = 2\n")
    assert content_tag(tmp_path) != first
