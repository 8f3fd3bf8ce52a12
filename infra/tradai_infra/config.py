"""Stack settings: read from ``pulumi config`` once and checked before anything is declared."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field

from tradai.topology import default_topology
from tradai.topology.naming import physical_name
from tradai_infra.errors import InfraConfigError
from tradai_infra.image import IMAGE_KEY, REPOSITORY, ImageRef, example, parse_image
from tradai_infra.image_build import BUILD_IMAGE_KEY, parse_build_flag

# ``pulumi config set`` keys, in the project namespace unless they say otherwise.
REGION_KEY = "aws:region"
AZS_KEY = "tradai:availabilityZones"
# IMAGE_KEY ("tradai:image"): the one platform image, checked by tradai_infra.image; or
# BUILD_IMAGE_KEY ("tradai:buildImage": true): the program builds and pushes it (image_build)
ALERT_EMAIL_KEY = "tradai:alertEmail"
LAMBDA_LAYERS_KEY = "tradai:lambdaLayers"
FAULTS_DIR_KEY = "tradai:faultTemplatesDir"  # default: the repository's scenarios/faults

AZS_EXAMPLE = '["eu-central-1a", "eu-central-1b"]'
REQUIRED_AZ_COUNT = 2  # The architecture (section 6) runs in exactly two AZs.

ConfigGetter = Callable[[str], str | None]


@dataclass(frozen=True)
class StackSettings:
    env: str
    region: str
    azs: tuple[str, ...]
    image: ImageRef | None  # None: the program builds the image (build_image)
    alert_email: str | None = None
    lambda_layers: tuple[str, ...] = field(default_factory=tuple)
    fault_templates_dir: str | None = None

    @property
    def build_image(self) -> bool:
        return self.image is None

    @property
    def is_production(self) -> bool:
        return self.env == "prod"


def load_settings(env: str, get: ConfigGetter) -> StackSettings:
    """Build settings from a config getter (``pulumi.Config`` in a run, a dict in tests)."""
    region = _required(get, REGION_KEY, "eu-central-1")
    azs = tuple(_json_list(get, AZS_KEY, required=True, example=AZS_EXAMPLE))
    if len(azs) != REQUIRED_AZ_COUNT:
        raise InfraConfigError(
            f"{AZS_KEY}: the architecture runs in exactly {REQUIRED_AZ_COUNT} availability zones, "
            f"got {len(azs)} ({', '.join(azs) or 'none'})"
        )
    for az in azs:
        if not az.startswith(region) or len(az) <= len(region):
            raise InfraConfigError(
                f"{AZS_KEY}: availability zone {az!r} is not a zone of {REGION_KEY} {region!r}"
            )
    if len(set(azs)) != len(azs):
        raise InfraConfigError(f"{AZS_KEY}: availability zones must differ, got {list(azs)}")
    image = _image(get, own_repository(env))
    layers = tuple(_json_list(get, LAMBDA_LAYERS_KEY, required=False, example='["arn:..."]'))
    return StackSettings(
        env=env,
        region=region,
        azs=azs,
        image=image,
        alert_email=get(ALERT_EMAIL_KEY) or None,
        lambda_layers=layers,
        fault_templates_dir=get(FAULTS_DIR_KEY) or None,
    )


def _image(get: ConfigGetter, own: str) -> ImageRef | None:
    """Exactly one of ``tradai:image`` (an image pushed elsewhere) and ``tradai:buildImage``
    (build it here) names the image; None means build."""
    raw = get(IMAGE_KEY)
    if parse_build_flag(get(BUILD_IMAGE_KEY)):
        if raw:
            raise InfraConfigError(
                f"{BUILD_IMAGE_KEY} is true and {IMAGE_KEY} is set ({raw!r}): choose one, the "
                f"image built here or the one named (`pulumi config rm {IMAGE_KEY}` or "
                f"`pulumi config rm {BUILD_IMAGE_KEY}`)")
        return None
    if not raw:
        raise InfraConfigError(
            f"{IMAGE_KEY} is not set: run `pulumi config set {IMAGE_KEY} {example(own)}`, or "
            f"`pulumi config set {BUILD_IMAGE_KEY} true` to build and push the repository's "
            f"Dockerfile (needs a Docker engine)")
    return parse_image(raw, own)


def own_repository(env: str, project: str | None = None) -> str:
    """The name of the ECR repository the program creates for the platform image."""
    return physical_name(project or default_topology().project, env, REPOSITORY)


def _required(get: ConfigGetter, key: str, example: str) -> str:
    value = get(key)
    if not value:
        raise InfraConfigError(f"{key} is not set: run `pulumi config set {key} {example}`")
    return value


def _json_list(get: ConfigGetter, key: str, *, required: bool, example: str) -> list[str]:
    raw = get(key)
    if not raw:
        if required:
            raise InfraConfigError(
                f"{key} is not set: run `pulumi config set --path '{key}[0]' ...` "
                f"or put {key}: {example} in Pulumi.<stack>.yaml"
            )
        return []
    try:
        value = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise InfraConfigError(f"{key}: expected a list like {example}, got {raw!r}") from exc
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise InfraConfigError(f"{key}: expected a list of strings like {example}, got {raw!r}")
    return value
