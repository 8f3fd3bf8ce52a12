"""The running stack's FIS, as ``tradai-sim fault`` uses it: render a template for the stack,
create it in the emulator (or update the one tagged with its name), start, follow, stop."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import boto3
import requests
from botocore.config import Config

from tradai.faults import RenderContext, TemplateInvalid, validate_template
from tradai.faults.templates import FaultTemplate, TemplateError, load_templates
from tradai_sim.cloud.context import EMULATOR_CREDENTIALS
from tradai_sim.stack import launcher

TERMINAL = ("completed", "stopped", "failed")
UPDATABLE = ("description", "stopConditions", "targets", "actions", "roleArn",
             "experimentOptions", "logConfiguration")


class FaultError(Exception):
    """A problem the user can fix; the message is one line saying which."""


def templates(directory: Path | None) -> dict[str, FaultTemplate]:
    try:
        return load_templates(directory)
    except TemplateError as exc:
        raise FaultError(str(exc)) from exc


def template(name: str, directory: Path | None) -> FaultTemplate:
    found = templates(directory)
    if name not in found:
        raise FaultError(f"unknown fault template {name!r}; known: {', '.join(found) or 'none'}"
                         " (`tradai-sim fault list`)")
    return found[name]


class StackFis:
    def __init__(self, state_dir: Path) -> None:
        try:
            rec = launcher.running_stack(state_dir)
        except launcher.StackError as exc:
            raise FaultError(str(exc)) from exc
        if rec is None:
            raise FaultError(f"no stack is running in {state_dir}; start one with "
                             f"`tradai-sim up --detach`")
        self.endpoint = rec.endpoint
        try:
            status = requests.get(f"{rec.endpoint}/_sim/status", timeout=10).json()
        except (requests.RequestException, ValueError) as exc:
            raise FaultError(f"the stack at {rec.endpoint} does not answer: {exc}") from exc
        info = status.get("resources", {}).get("fis")
        if not info:
            raise FaultError(f"the stack at {rec.endpoint} runs no FIS part")
        self.context = RenderContext(info["project"], info["env"], info["region"],
                                     info["account"])
        self.fis = boto3.client(
            "fis", endpoint_url=rec.endpoint, region_name=info["region"],
            aws_access_key_id=EMULATOR_CREDENTIALS["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=EMULATOR_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
            config=Config(retries={"max_attempts": 2}))

    def render(self, tpl: FaultTemplate) -> dict[str, Any]:
        try:
            body = tpl.render(self.context)
        except TemplateError as exc:
            raise FaultError(str(exc)) from exc
        issues = validate_template(body)
        if issues:
            raise FaultError(str(TemplateInvalid(issues, tpl.name)))
        return body

    def ensure_template(self, tpl: FaultTemplate) -> str:
        """The emulator's template tagged ``Name`` = the template's name, made current."""
        body = self.render(tpl)
        fields = {k: body[k] for k in UPDATABLE if k in body}
        for page in self.fis.get_paginator("list_experiment_templates").paginate():
            for summary in page["experimentTemplates"]:
                if summary.get("tags", {}).get("Name") == tpl.name:
                    self.fis.update_experiment_template(id=summary["id"], **fields)
                    return str(summary["id"])
        tags = {**body.get("tags", {}), "Name": tpl.name}
        created = self.fis.create_experiment_template(**fields, tags=tags)
        return str(created["experimentTemplate"]["id"])

    def start(self, tpl: FaultTemplate) -> dict[str, Any]:
        template_id = self.ensure_template(tpl)
        return dict(self.fis.start_experiment(experimentTemplateId=template_id,
                                              tags={"Name": tpl.name})["experiment"])

    def get(self, experiment_id: str) -> dict[str, Any]:
        return dict(self.fis.get_experiment(id=experiment_id)["experiment"])

    def experiments(self) -> list[dict[str, Any]]:
        ids = [e["id"] for page in self.fis.get_paginator("list_experiments").paginate()
               for e in page["experiments"]]
        found = [self.get(i) for i in ids]
        return sorted(found, key=lambda e: str(e.get("creationTime", "")))

    def stop(self, experiment_id: str) -> dict[str, Any]:
        return dict(self.fis.stop_experiment(id=experiment_id)["experiment"])
