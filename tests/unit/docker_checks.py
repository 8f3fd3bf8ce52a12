"""Static checks of ``compose/compose.yml`` and the ``Dockerfile`` that need no Docker engine:
each returns the list of problems found (empty: good), so a test can show each check failing on a
mutated copy (tests/unit/test_docker_static.py)."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Any

import yaml

from tradai.topology.model import Topology

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = ROOT / "compose" / "compose.yml"
ENV_EXAMPLE = ROOT / "compose" / ".env.example"
DOCKERFILE = ROOT / "Dockerfile"
PYPROJECT = ROOT / "pyproject.toml"

SERVICE_KEYS = {"image", "build", "command", "entrypoint", "environment", "env_file",
                "depends_on", "ports", "volumes", "healthcheck", "profiles", "networks",
                "restart", "user", "working_dir", "expose", "labels"}
ALTERNATIVES = {"moto", "localstack"}  # AWS emulator profiles: exactly one is started
TOP_KEYS = {"name", "services", "volumes", "networks", "configs", "secrets"}
SENSITIVE = re.compile(r"PASSWORD|SECRET|TOKEN|ACCESS_KEY|CREDENTIAL|API_KEY", re.I)
# ${VAR}, ${VAR:?message}, ${VAR?message}, ${VAR:-} (empty default): a reference, no value.
REF = r"\$\{[A-Za-z_][A-Za-z0-9_]*(?:(?::?\?)[^}]*|:-)?\}"
REQUIRED_REF = re.compile(r"^\$\{[A-Za-z_][A-Za-z0-9_]*:?\?[^}]*\}$")
ONLY_REFS = re.compile(rf"^(?:{REF})+$")
URI_CREDS = re.compile(r"://([^/@\s]+):([^/@\s]+)@")
QUERY_SECRET = re.compile(r"[?&](?:secret|password|access)=([^&\s]+)", re.I)
DIGEST = re.compile(r"@sha256:[0-9a-f]{64}$")
VERSIONED_TAG = re.compile(r"^v?\d+(?:\.\d+)*(?:[-.][A-Za-z0-9.-]+)?$|^RELEASE\.[0-9TZ-]+$")


def mlflow_pin(pyproject: Path = PYPROJECT) -> str:
    """The MLflow version the project pins, e.g. ``3.17.*`` from ``mlflow[auth]==3.17.*``."""
    deps = tomllib.loads(pyproject.read_text())["project"]["dependencies"]
    for dep in deps:
        m = re.match(r"^mlflow(?:\[[^\]]*\])?==([0-9.*]+)$", dep.replace(" ", ""))
        if m:
            return m.group(1)
    raise AssertionError("pyproject pins no MLflow version (mlflow==X.Y.*)")


def _matches_pin(version: str, pin: str) -> bool:
    pattern = re.escape(pin).replace(r"\*", r"\d+")
    return re.fullmatch(pattern, version) is not None


def load_compose(text: str) -> tuple[dict[str, Any] | None, list[str]]:
    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        return None, [f"compose file does not parse: {exc}"]
    if not isinstance(doc, dict) or not isinstance(doc.get("services"), dict):
        return None, ["compose file has no services mapping"]
    return doc, []


def compose_problems(text: str, topo: Topology, pin: str) -> list[str]:
    doc, problems = load_compose(text)
    if doc is None:
        return problems
    problems += _schema(doc)
    problems += _images(doc, pin)
    problems += _ports(doc, topo)
    problems += _secrets(doc)
    return problems


def _schema(doc: dict[str, Any]) -> list[str]:
    out = [f"unknown top-level key {k!r}" for k in doc
           if k not in TOP_KEYS and not str(k).startswith("x-")]
    declared = set((doc.get("volumes") or {}).keys())
    for name, svc in doc["services"].items():
        if not isinstance(svc, dict):
            out.append(f"service {name}: not a mapping")
            continue
        out += [f"service {name}: unknown key {k!r}" for k in svc if k not in SERVICE_KEYS]
        if "image" not in svc:
            out.append(f"service {name}: no image (every image is named and pinned)")
        if not isinstance(svc.get("profiles"), list) or not svc["profiles"]:
            out.append(f"service {name}: no profiles")
        hc = svc.get("healthcheck")
        if not isinstance(hc, dict) or not hc.get("test"):
            out.append(f"service {name}: no health check")
        for mount in svc.get("volumes") or []:
            source = str(mount).split(":", 1)[0]
            if not source.startswith((".", "/", "~", "$")) and source not in declared:
                out.append(f"service {name}: volume {source!r} is not a declared named volume")
            elif source.startswith((".", "/", "~")):
                out.append(f"service {name}: bind mount {source!r} (named volumes only)")
        for port in svc.get("ports") or []:
            if not re.fullmatch(r"(?:127\.0\.0\.1:)?\d+:\d+", str(port)):
                out.append(f"service {name}: port {port!r} is not HOST:CONTAINER on loopback")
    return out


def _image_parts(image: str) -> tuple[str, str | None, bool]:
    """(repository, tag, has digest); a ${VAR...} reference counts as one opaque word."""
    refs: list[str] = []

    def hide(m: re.Match[str]) -> str:
        refs.append(m.group(0))
        return f"\0{len(refs) - 1}\0"

    def show(text: str) -> str:
        return re.sub(r"\0(\d+)\0", lambda m: refs[int(m.group(1))], text)

    hidden = re.sub(r"\$\{[^}]*\}", hide, image)
    digest = bool(DIGEST.search(hidden))
    base = hidden.split("@", 1)[0]
    slash, colon = base.rfind("/"), base.rfind(":")
    if colon > slash:
        return show(base[:colon]), show(base[colon + 1:]), digest
    return show(base), None, digest


def _images(doc: dict[str, Any], pin: str) -> list[str]:
    out = []
    for name, svc in doc["services"].items():
        image = svc.get("image") if isinstance(svc, dict) else None
        if not isinstance(image, str):
            continue
        repo, tag, digest = _image_parts(image)
        if tag is None and not digest:
            out.append(f"service {name}: image {image!r} is untagged (that is :latest)")
        elif tag == "latest":
            out.append(f"service {name}: image {image!r} uses the moving tag latest")
        elif tag is not None and not (VERSIONED_TAG.match(tag) or REQUIRED_REF.match(tag)):
            out.append(f"service {name}: image {image!r} tag {tag!r} is not a version (or a "
                       "required ${VAR:?...} for the images built here)")
        if "build" in svc and not (tag and REQUIRED_REF.match(tag)):
            out.append(f"service {name}: built image {image!r} must be tagged by a required "
                       "variable")
        if repo.endswith("mlflow/mlflow"):
            version = (tag or "").removeprefix("v")
            if not _matches_pin(version, pin):
                out.append(f"service {name}: MLflow image {image!r} is not the pinned MLflow "
                           f"{pin} (pyproject)")
    mlflow = doc["services"].get("mlflow")
    if not isinstance(mlflow, dict):
        out.append("no mlflow service")
    else:
        # MLflow 3 refuses (403) a Host header outside MLFLOW_SERVER_ALLOWED_HOSTS
        # (mlflow/server/security_utils.py): the name its clients use must be listed.
        env = mlflow.get("environment") or {}
        allowed = str(env.get("MLFLOW_SERVER_ALLOWED_HOSTS", "")).split(",")
        for name, svc in doc["services"].items():
            url = str(((svc or {}).get("environment") or {}).get("TRADAI_MLFLOW_URL", ""))
            host = url.split("://", 1)[-1].split("/", 1)[0]
            if host and host not in allowed:
                out.append(f"service mlflow: MLFLOW_SERVER_ALLOWED_HOSTS lacks {host}, the "
                           f"host {name} calls it by")
        build = mlflow.get("build") or {}
        repo, _tag, _d = _image_parts(str(mlflow.get("image", "")))
        own = (isinstance(build, dict) and build.get("dockerfile") == "Dockerfile"
               and build.get("target") == "runtime")
        if not own and not repo.endswith("mlflow/mlflow"):
            out.append("service mlflow: neither the platform image (its MLflow is pyproject's "
                       "pin) nor an MLflow image at the pinned version")
    return out


def _ports(doc: dict[str, Any], topo: Topology) -> list[str]:
    out = []
    services = doc["services"]
    hosts: dict[str, list[tuple[str, set[str]]]] = {}
    for name, svc in services.items():
        if not isinstance(svc, dict):
            continue
        profiles = set(svc.get("profiles") or [])
        for port in svc.get("ports") or []:
            host = str(port).rsplit(":", 2)[-2]
            # Two services may share a host port only if they are the alternatives moto and
            # LocalStack (one or the other runs); every other profile runs together.
            for other, other_profiles in hosts.get(host, []):
                alternatives = (profiles | other_profiles <= ALTERNATIVES
                                and not profiles & other_profiles)
                if not alternatives:
                    out.append(f"host port {host} published by {other} and {name}")
            hosts.setdefault(host, []).append((name, profiles))
    for spec in topo.services:
        svc = services.get(spec.name)
        if not isinstance(svc, dict):
            out.append(f"topology service {spec.name} has no compose service")
            continue
        env = svc.get("environment") or {}
        if str(env.get("PORT")) != str(spec.port):
            out.append(f"service {spec.name}: PORT {env.get('PORT')!r}, the spec says "
                       f"{spec.port}")
        container_ports = {str(p).rsplit(":", 1)[-1] for p in svc.get("ports") or []}
        if container_ports != {str(spec.port)}:
            out.append(f"service {spec.name}: publishes {sorted(container_ports)}, the spec's "
                       f"port is {spec.port}")
        test = " ".join(map(str, (svc.get("healthcheck") or {}).get("test") or []))
        if f":{spec.port}{spec.health_path}" not in test:
            out.append(f"service {spec.name}: health check does not probe "
                       f":{spec.port}{spec.health_path}")
        command = " ".join(map(str, svc.get("command") or []))
        if command != f"python -m {spec.entrypoint}":
            out.append(f"service {spec.name}: command {command!r} is not the spec's "
                       f"python -m {spec.entrypoint}")
    return out


def _secrets(doc: dict[str, Any]) -> list[str]:
    out = []

    def check(where: str, key: str, value: Any) -> None:
        text = "" if value is None else str(value)
        if SENSITIVE.search(key) and text and not ONLY_REFS.match(text):
            out.append(f"{where}: {key} holds a literal value (use ${{VAR}} from the env file)")
        for user, password in URI_CREDS.findall(text):
            for part in (user, password):
                if not ONLY_REFS.match(part):
                    out.append(f"{where}: {key} has literal credentials in a URI")
        for secret in QUERY_SECRET.findall(text):
            if not ONLY_REFS.match(secret):
                out.append(f"{where}: {key} has a literal secret in a query string")

    for name, svc in doc["services"].items():
        if not isinstance(svc, dict):
            continue
        env = svc.get("environment") or {}
        items = (env.items() if isinstance(env, dict)
                 else (str(e).partition("=")[::2] for e in env))
        for key, value in items:
            check(f"service {name}", str(key), value)
        for i, part in enumerate(svc.get("command") or []):
            check(f"service {name}", f"command[{i}]", part)
    return out


def env_example_problems(text: str) -> list[str]:
    """The example env file names the variables but holds no secret value."""
    out = []
    for line in text.splitlines():
        if not line.strip() or line.lstrip().startswith("#") or "=" not in line:
            continue
        key, _, value = line.partition("=")
        if SENSITIVE.search(key) and value.strip():
            out.append(f".env.example: {key.strip()} has a value (leave secrets empty)")
    return out


def dockerfile_problems(text: str) -> list[str]:
    out = []
    args: dict[str, str] = {}
    stages: list[dict[str, Any]] = []
    lines = re.sub(r"\\\n", " ", text).splitlines()
    for raw in lines:
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        word, _, rest = line.partition(" ")
        word = word.upper()
        if word == "ARG" and not stages:
            name, _, default = rest.strip().partition("=")
            args[name] = default
        elif word == "FROM":
            parts = rest.split()
            image = re.sub(r"\$\{?(\w+)\}?", lambda m: args.get(m.group(1), m.group(0)),
                           parts[0])
            alias = parts[2] if len(parts) >= 3 and parts[1].upper() == "AS" else None
            stages.append({"image": image, "alias": alias, "user": None, "parent": None})
            parent = next((s for s in stages[:-1] if s["alias"] == image), None)
            if parent is not None:
                stages[-1]["user"] = parent["user"]  # USER is inherited from the stage
            else:
                _repo, tag, digest = _image_parts(image)
                if tag is None or tag == "latest":
                    out.append(f"base image {image!r} has no version tag")
                elif not VERSIONED_TAG.match(tag) and not re.match(r"^\d", tag):
                    out.append(f"base image {image!r} tag {tag!r} is not a version")
                if not digest:
                    out.append(f"base image {image!r} is not pinned by digest")
        elif word == "USER" and stages:
            stages[-1]["user"] = rest.strip()
        elif word == "HEALTHCHECK":
            out.append("HEALTHCHECK in the image (ECS and the ALB check health)")
        elif word in ("ENV", "ARG") and SENSITIVE.search(rest):
            out.append(f"{word} {rest.split('=')[0]}: no secret in the image")
    if not stages:
        return ["no FROM"]
    # Build-only stages are those others copy from; every other stage is an image one can run.
    copied_from = set(re.findall(r"COPY\s+(?:--\S+\s+)*--from=(\S+)", text))
    finals = [s for s in stages if s["alias"] not in copied_from]
    for stage in finals:
        user = (stage["user"] or "root").split(":")[0]
        if user in ("root", "0"):
            out.append(f"stage {stage['alias'] or stage['image']} runs as root (no USER)")
    return out


def context_problems(dockerignore: str, root: Path = ROOT) -> list[str]:
    """What `docker build .` would send, by docker's own .dockerignore matcher: only what the
    Dockerfile copies; never local state, virtualenvs, env files or the tests."""
    from docker.utils.build import exclude_paths

    patterns = [ln.strip() for ln in dockerignore.splitlines()
                if ln.strip() and not ln.lstrip().startswith("#")]
    sent = exclude_paths(str(root), patterns)
    allowed = ("Dockerfile", ".dockerignore", "pyproject.toml", "README.md", "platform/",
               "sim/tradai_sim/__init__.py", "sim/tradai_sim/vpc/__init__.py",
               "sim/tradai_sim/vpc/marks.py", "sim/tradai_sim/exchange")
    out = [f"build context sends {p}" for p in sorted(sent)
           if not (p in allowed or p.startswith(allowed) or p in ("platform", "sim",
                                                                  "sim/tradai_sim",
                                                                  "sim/tradai_sim/vpc"))]
    out += [f"build context sends {p}" for p in sorted(sent)
            if "__pycache__" in p or p.endswith(".pyc")]
    for needed in ("pyproject.toml", "README.md", "platform/tradai/topology/topology.yaml",
                   "sim/tradai_sim/exchange/__main__.py"):
        if needed not in sent:
            out.append(f"build context lacks {needed} (the Dockerfile copies it)")
    return out
