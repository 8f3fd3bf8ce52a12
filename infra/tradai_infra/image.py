"""The one platform image (repository ``Dockerfile``) that every ECS service and task definition
runs, named by one stack setting: ``tradai:image``.

Accepted forms (a tag other than ``latest``, or an immutable digest):

- ``<repository>:<tag>`` / ``<repository>@sha256:<64 hex>`` where ``<repository>`` is the name
  of the ECR repository this program creates (``<project>-<env>-platform``);
- ``<account>.dkr.ecr.<region>.amazonaws.com/<name>:<tag>`` (or ``@sha256:...``): an image in
  another ECR repository (a build account's), pulled as is.

``latest`` and untagged references are refused: a task definition pinned to a moving tag runs
whatever was pushed last, and ECS would start different code on each replacement task.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from tradai_infra.errors import InfraConfigError

IMAGE_KEY = "tradai:image"
REPOSITORY = "platform"  # logical name of the program's ECR repository
_DIGEST = re.compile(r"^sha256:[0-9a-f]{64}$")
# Docker's tag grammar: [A-Za-z0-9_][A-Za-z0-9_.-]{0,127}
_TAG = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")
# ECR repository names: lowercase, digits, . _ - and / separators.
_NAME = re.compile(r"^[a-z0-9]+(?:[._-][a-z0-9]+)*(?:/[a-z0-9]+(?:[._-][a-z0-9]+)*)*$")
_ECR_HOST = re.compile(r"^(\d{12})\.dkr\.ecr\.([a-z0-9-]+)\.amazonaws\.com$")


@dataclass(frozen=True)
class ImageRef:
    """``registry`` is None for the program's own repository (its URL is known after it is
    created); ``reference`` is ``:tag`` or ``@sha256:...``, appended to the repository URL."""

    repository: str
    reference: str
    registry: str | None = None

    @property
    def account(self) -> str | None:
        m = _ECR_HOST.match(self.registry or "")
        return m.group(1) if m else None

    @property
    def region(self) -> str | None:
        m = _ECR_HOST.match(self.registry or "")
        return m.group(2) if m else None

    def uri(self, repository_url: str | None = None) -> str:
        base = repository_url if self.registry is None else f"{self.registry}/{self.repository}"
        if base is None:
            raise ValueError("the program's own repository needs its URL")
        return f"{base}{self.reference}"


def example(own_repository: str) -> str:
    return f"{own_repository}:<tag> or {own_repository}@sha256:<digest>"


def parse_image(value: str | None, own_repository: str) -> ImageRef:
    """Check ``tradai:image``; every refusal names the key and an accepted form."""
    hint = f"run `pulumi config set {IMAGE_KEY} {example(own_repository)}`"
    if not value:
        raise InfraConfigError(f"{IMAGE_KEY} is not set: {hint}")
    value = value.strip()
    name, sep, digest = value.partition("@")
    if sep:
        if not _DIGEST.match(digest):
            raise InfraConfigError(
                f"{IMAGE_KEY}: {value!r} has a malformed digest (expected sha256:<64 lowercase "
                f"hex digits>); {hint}")
        reference = f"@{digest}"
    else:
        slash = name.rfind("/")
        colon = name.rfind(":")
        if colon <= slash:  # no tag after the last path component
            raise InfraConfigError(
                f"{IMAGE_KEY}: {value!r} has no tag or digest (an untagged image is :latest); "
                f"{hint}")
        name, tag = name[:colon], name[colon + 1:]
        if tag == "latest":
            raise InfraConfigError(
                f"{IMAGE_KEY}: {value!r} uses the moving tag 'latest'; name a release tag or a "
                f"digest: {hint}")
        if not _TAG.match(tag):
            raise InfraConfigError(f"{IMAGE_KEY}: {value!r} has an invalid tag {tag!r}; {hint}")
        reference = f":{tag}"
    registry: str | None = None
    if "/" in name and "." in name.split("/", 1)[0]:
        registry, name = name.split("/", 1)
        if not _ECR_HOST.match(registry):
            raise InfraConfigError(
                f"{IMAGE_KEY}: {value!r} is not in ECR (registry {registry!r}); ECS task "
                f"definitions pull from ECR: push the image there, or use "
                f"{example(own_repository)}")
    elif name != own_repository:
        raise InfraConfigError(
            f"{IMAGE_KEY}: repository {name!r} is neither this stack's ECR repository "
            f"({own_repository!r}) nor a full ECR URI (<account>.dkr.ecr.<region>.amazonaws.com/"
            f"<name>); {hint}")
    if not _NAME.match(name):
        raise InfraConfigError(f"{IMAGE_KEY}: invalid repository name {name!r}; {hint}")
    return ImageRef(repository=name, reference=reference, registry=registry)
