"""Fault templates as files: one FIS ``CreateExperimentTemplate`` input per JSON file in a
directory (``scenarios/faults/NAME.json``, file stem = template name), with placeholders that
``render`` resolves for one deployment:

| placeholder | becomes |
|---|---|
| ``${project}``, ``${env}``, ``${region}``, ``${account}`` | the deployment's values |
| ``${name:LOGICAL}`` | ``physical_name(LOGICAL)``, e.g. ``tradai-local-public-a`` |
| ``${az:a}`` | the AZ name, ``eu-central-1a`` |
| ``${alarm:L}``, ``${role:L}``, ``${queue:L}``, ``${topic:L}`` | the ARN of that alarm, IAM
  role, queue or topic, named ``physical_name(L)`` |
| ``${fis_role_arn}`` | the role experiments run as, ``tradai-<env>-fis`` |
"""

from __future__ import annotations

import copy
import json
import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tradai.faults.catalog import HARNESS_PREFIX
from tradai.topology.naming import physical_name

FAULTS_DIR_ENV = "TRADAI_FAULTS_DIR"
FIS_ROLE = "fis"
_PLACEHOLDER = re.compile(r"\$\{([^}]*)\}")
_AZ_LETTER = re.compile(r"^[a-z]$")


class TemplateError(ValueError):
    """A template that cannot be loaded or rendered; the message names template and field."""


@dataclass(frozen=True)
class RenderContext:
    project: str
    env: str
    region: str
    account: str

    def name(self, logical: str) -> str:
        return physical_name(self.project, self.env, logical)

    def arn(self, service: str, resource: str, regional: bool = True) -> str:
        region = self.region if regional else ""
        return f"arn:aws:{service}:{region}:{self.account}:{resource}"

    @property
    def fis_role_arn(self) -> str:
        return self.arn("iam", f"role/{self.name(FIS_ROLE)}", regional=False)


def _resolvers(ctx: RenderContext) -> dict[str, Callable[[str | None], str | None]]:
    """Placeholder kind -> value; None means the argument is missing or malformed."""

    def plain(value: str) -> Callable[[str | None], str | None]:
        return lambda arg: value if arg is None else None

    def named(fn: Callable[[str], str]) -> Callable[[str | None], str | None]:
        return lambda arg: fn(arg) if arg else None

    return {
        "project": plain(ctx.project), "env": plain(ctx.env), "region": plain(ctx.region),
        "account": plain(ctx.account), "fis_role_arn": plain(ctx.fis_role_arn),
        "name": named(ctx.name),
        "az": lambda arg: f"{ctx.region}{arg}" if arg and _AZ_LETTER.match(arg) else None,
        "alarm": named(lambda lg: ctx.arn("cloudwatch", f"alarm:{ctx.name(lg)}")),
        "role": named(lambda lg: ctx.arn("iam", f"role/{ctx.name(lg)}", regional=False)),
        "queue": named(lambda lg: ctx.arn("sqs", ctx.name(lg))),
        "topic": named(lambda lg: ctx.arn("sns", ctx.name(lg))),
    }


def render(body: Any, ctx: RenderContext, template: str = "(template)") -> Any:
    """A copy of ``body`` with every placeholder in its string values resolved."""
    resolvers = _resolvers(ctx)

    def sub(text: str, path: str) -> str:
        def one(match: re.Match[str]) -> str:
            kind, sep, arg = match.group(1).partition(":")
            resolver = resolvers.get(kind)
            value = resolver(arg if sep else None) if resolver else None
            if value is None:
                raise TemplateError(f"template {template!r}: {path}: unknown placeholder "
                                    f"{match.group(0)} (known: ${{project}}, ${{env}}, "
                                    f"${{region}}, ${{account}}, ${{fis_role_arn}}, "
                                    f"${{name:L}}, ${{az:a}}, ${{alarm:L}}, ${{role:L}}, "
                                    f"${{queue:L}}, ${{topic:L}})")
            return value

        return _PLACEHOLDER.sub(one, text)

    def walk(node: Any, path: str) -> Any:
        if isinstance(node, dict):
            return {k: walk(v, f"{path}.{k}" if path else k) for k, v in node.items()}
        if isinstance(node, list):
            return [walk(v, f"{path}[{i}]") for i, v in enumerate(node)]
        if isinstance(node, str):
            return sub(node, path or "(value)")
        return node

    return walk(copy.deepcopy(body), "")


def classify(body: Any) -> str:
    """``harness`` if any action is a ``tradai:`` action (never deployed to AWS), else ``aws``."""
    actions = body.get("actions") if isinstance(body, dict) else None
    ids = [a.get("actionId", "") for a in (actions or {}).values() if isinstance(a, dict)]
    return "harness" if any(str(i).startswith(HARNESS_PREFIX) for i in ids) else "aws"


@dataclass(frozen=True)
class FaultTemplate:
    name: str
    body: dict[str, Any]  # unrendered
    path: Path | None = None

    @property
    def kind(self) -> str:
        return classify(self.body)

    @property
    def description(self) -> str:
        return str(self.body.get("description", ""))

    def render(self, ctx: RenderContext) -> dict[str, Any]:
        rendered: dict[str, Any] = render(self.body, ctx, self.name)
        return rendered


def load_template(path: Path) -> FaultTemplate:
    try:
        body = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise TemplateError(f"template {path.stem!r} ({path}): cannot be read: {exc}") from exc
    if not isinstance(body, dict):
        raise TemplateError(f"template {path.stem!r} ({path}): must be a JSON object")
    return FaultTemplate(path.stem, body, path)


def load_templates(directory: Path | None = None) -> dict[str, FaultTemplate]:
    """Every ``*.json`` template in ``directory`` (default: ``default_directory()``), by name."""
    directory = directory or default_directory()
    if not directory.is_dir():
        raise TemplateError(f"no fault templates directory at {directory}")
    return {p.stem: load_template(p) for p in sorted(directory.glob("*.json"))}


def default_directory() -> Path:
    """``$TRADAI_FAULTS_DIR``, else ``scenarios/faults`` of the repository this file is in."""
    if env := os.environ.get(FAULTS_DIR_ENV):
        return Path(env)
    return Path(__file__).resolve().parents[3] / "scenarios" / "faults"
