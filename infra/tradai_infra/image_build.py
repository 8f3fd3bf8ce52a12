"""Build the one platform image (the repository's ``Dockerfile``) and push it to this stack's ECR
repository, when the stack asks for it: ``tradai:buildImage: true`` (``tradai:image`` then stays
unset; one of the two names the image). Every task definition then runs the pushed image by its
digest (``<repository URL>@sha256:...``), never by a tag.

The build needs a Docker engine where ``pulumi up`` runs (the pulumi-docker-build provider
drives BuildKit through it). Docker clients find the engine through ``DOCKER_HOST`` or the
default socket ``/var/run/docker.sock``; :func:`require_docker_engine` looks the same way and
stops the program before any resource is declared when none answers, naming the alternative
(push the image elsewhere and set ``tradai:image``).
"""

from __future__ import annotations

import hashlib
import os
import socket
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from urllib.parse import urlparse

import pulumi
import pulumi_aws as aws
import pulumi_docker_build as docker_build

from tradai_infra.errors import InfraConfigError
from tradai_infra.image import IMAGE_KEY

BUILD_IMAGE_KEY = "tradai:buildImage"
ROOT = Path(__file__).resolve().parents[2]  # the repository: the build context
DOCKERFILE = ROOT / "Dockerfile"
# The Dockerfile's last stage is compose's exchange simulator; ECS runs ``runtime``.
TARGET = "runtime"
# No task definition here sets runtimePlatform.cpuArchitecture (X86_64 or ARM64:
# https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/aws-properties-ecs-taskdefinition-runtimeplatform.html),
# so Fargate runs them on x86-64: build for that, whatever machine runs `pulumi up`.
PLATFORM = docker_build.Platform.LINUX_AMD64
DEFAULT_SOCKET = "/var/run/docker.sock"
# What the runtime stage copies (the .dockerignore lets in no more for it): the tag changes
# exactly when these do, as the repository's tags are immutable (pushing an existing tag fails
# with ImageTagAlreadyExistsException:
# https://docs.aws.amazon.com/AmazonECR/latest/userguide/repository-edit.html).
_INPUTS = ("Dockerfile", ".dockerignore", "pyproject.toml", "README.md", "platform")
_SKIP_SUFFIXES = (".pyc", ".pem")
_SKIP_NAMES = ("__pycache__", ".env")

Connector = Callable[[str], None]


def parse_build_flag(raw: str | None) -> bool:
    if raw is None or raw == "":
        return False
    value = raw.strip().lower()
    if value in ("true", "false"):
        return value == "true"
    raise InfraConfigError(f"{BUILD_IMAGE_KEY}: expected true or false, got {raw!r}")


def _connect(address: str) -> None:
    """Open and close a connection to a Docker engine address (``unix://`` or ``tcp://``)."""
    url = urlparse(address)
    if url.scheme == "unix":
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.settimeout(2)
            s.connect(url.path)
    elif url.scheme in ("tcp", "http", "https"):
        default = 2376 if url.scheme == "https" else 2375
        socket.create_connection((url.hostname or "localhost", url.port or default), 2).close()
    elif url.scheme == "ssh":
        return  # the Docker CLI tunnels over ssh; nothing to probe without its credentials
    else:
        raise OSError(f"unsupported scheme {url.scheme!r}")


def require_docker_engine(environ: Mapping[str, str] | None = None,
                          connect: Connector = _connect) -> None:
    """Raise :class:`InfraConfigError` unless a Docker engine answers where clients look."""
    environ = os.environ if environ is None else environ
    address = environ.get("DOCKER_HOST") or f"unix://{DEFAULT_SOCKET}"
    where = (f"DOCKER_HOST={address}" if environ.get("DOCKER_HOST")
             else f"the default socket {DEFAULT_SOCKET}")
    try:
        connect(address)
    except OSError as exc:  # missing socket, refused, no permission: no engine for us
        raise InfraConfigError(
            f"{BUILD_IMAGE_KEY} is true but no Docker engine answers at {where} ({exc}): start "
            f"Docker or point DOCKER_HOST at an engine, or build and push the image elsewhere "
            f"(CI) and run `pulumi config rm {BUILD_IMAGE_KEY}` and `pulumi config set "
            f"{IMAGE_KEY} <repository>@sha256:<digest>` (or :<release tag>)") from exc


def _inputs(root: Path) -> Iterator[Path]:
    for name in _INPUTS:
        top = root / name
        paths = [top] if top.is_file() else sorted(p for p in top.rglob("*") if p.is_file())
        for p in paths:
            rel = p.relative_to(root)
            if p.suffix in _SKIP_SUFFIXES or any(part in _SKIP_NAMES for part in rel.parts):
                continue
            yield p


def content_tag(root: Path = ROOT) -> str:
    """``build-<hash>``: a tag derived from what the image is built from (ECR tags here are
    immutable, so a changed image needs a new tag; an unchanged one keeps its tag and digest)."""
    digest = hashlib.sha256()
    for p in _inputs(root):
        digest.update(str(p.relative_to(root)).encode() + b"\0")
        digest.update(p.read_bytes() + b"\0")
    return f"build-{digest.hexdigest()[:16]}"


def build_image(name: str, repository: aws.ecr.Repository, tag: str) -> pulumi.Output[str]:
    """Declare the build-and-push; return the image by digest for the task definitions
    (``repository-url/image@sha256:<64 hex>``, the container definition's digest form:
    https://docs.aws.amazon.com/sdk-for-kotlin/api/latest/ecs/aws.sdk.kotlin.services.ecs.model/-container-definition/image.html)."""
    token = aws.ecr.get_authorization_token_output(registry_id=repository.registry_id)
    image = docker_build.Image(
        name,
        context={"location": str(ROOT)},
        dockerfile={"location": str(DOCKERFILE)},
        target=TARGET,
        platforms=[PLATFORM],
        push=True,
        tags=[repository.repository_url.apply(lambda url: f"{url}:{tag}")],
        registries=[{
            "address": repository.repository_url,
            "username": token.user_name,
            "password": pulumi.Output.secret(token.password),
        }],
    )
    return pulumi.Output.all(repository.repository_url, image.digest).apply(
        lambda a: f"{a[0]}@{a[1]}")
