"""AWS FIS experiment templates: the fault templates the local cloud runs, deployed to AWS FIS.

Every template in ``scenarios/faults/`` (or ``tradai:faultTemplatesDir``) is loaded, rendered
and validated with ``tradai.faults`` before any resource is declared. Templates with only
``aws:`` actions become ``aws.fis.ExperimentTemplate`` resources run by one least-privilege
role, ``tradai-<env>-fis`` (``fis_permissions``); templates with a ``tradai:`` harness action
exist only in the local cloud and are reported as left out.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pulumi
import pulumi_aws as aws

from tradai.faults import (
    FaultTemplate,
    Issue,
    RenderContext,
    TemplateError,
    load_templates,
    validate_template,
)
from tradai.faults.catalog import HARNESS_PREFIX
from tradai.faults.templates import FIS_ROLE
from tradai.topology import Topology
from tradai_infra.config import FAULTS_DIR_KEY, StackSettings
from tradai_infra.context import Context
from tradai_infra.errors import FaultTemplateError, InfraConfigError
from tradai_infra.fis_permissions import RULES, Scope, fis_statements, trust_policy
from tradai_infra.iam import policy_document
from tradai_infra.network import Network

# Rendering fails or succeeds the same for any account, so templates are checked with this
# one before the real account (an Output of get_caller_identity) is known.
CHECK_ACCOUNT = "000000000000"
# Limits of the FIS CreateExperimentTemplate API (and the provider) the local FIS does not
# enforce: a template over them would only fail during `pulumi up`.
MAX_DESCRIPTION = 512
MAX_NAME = 64
MAX_RESOURCE_ARNS = 5
MAX_RESOURCE_TAGS = 50
# Need permissions (logs, S3, dashboards) the FIS role is not given.
UNSUPPORTED_FIELDS = ("logConfiguration", "experimentReportConfiguration")
_ALARM_REF = re.compile(r"^\$\{alarm:([^}]+)\}$")

LEFT_OUT_OUTPUT = "fault_templates_left_out"
DEPLOYED_OUTPUT = "fault_templates"


@dataclass(frozen=True)
class FaultPlan:
    """Which templates are deployed and which are left out (name -> reason)."""

    deployed: dict[str, FaultTemplate]
    left_out: dict[str, str]


def render_context(topo: Topology, settings: StackSettings, account: str) -> RenderContext:
    return RenderContext(project=topo.project, env=settings.env, region=settings.region,
                         account=account)


def harness_reason(body: Mapping[str, Any]) -> str | None:
    """Why a template stays local: its ``tradai:`` actions, or None for an AWS template."""
    ids = sorted({str(a.get("actionId")) for a in (body.get("actions") or {}).values()
                  if isinstance(a, Mapping)
                  and str(a.get("actionId", "")).startswith(HARNESS_PREFIX)})
    if not ids:
        return None
    return f"harness action{'s' if len(ids) > 1 else ''} {', '.join(ids)}"


def plan_faults(topo: Topology, settings: StackSettings) -> FaultPlan:
    """Load and check every template; raises before any resource is declared."""
    check = render_context(topo, settings, CHECK_ACCOUNT)
    deployed: dict[str, FaultTemplate] = {}
    left_out: dict[str, str] = {}
    for name, template in _load(settings).items():
        rendered = _render(template, check)
        _fail_on(template, "is invalid", validate_template(rendered))
        reason = harness_reason(template.body) or missing_alarms_reason(template.body, topo)
        if reason:
            left_out[name] = reason
            continue
        _fail_on(template, "cannot be deployed to AWS FIS",
                 deploy_issues(rendered, check))
        deployed[name] = template
    return FaultPlan(deployed=deployed, left_out=left_out)


def _load(settings: StackSettings) -> dict[str, FaultTemplate]:
    directory = Path(settings.fault_templates_dir) if settings.fault_templates_dir else None
    try:
        return load_templates(directory)
    except TemplateError as exc:
        if directory is not None and not directory.is_dir():
            raise InfraConfigError(f"{FAULTS_DIR_KEY}: {exc}") from exc
        raise FaultTemplateError(str(exc)) from exc


def _render(template: FaultTemplate, ctx: RenderContext) -> dict[str, Any]:
    try:
        return template.render(ctx)
    except TemplateError as exc:  # names the template and the field with the placeholder
        raise FaultTemplateError(f"{exc} ({template.path})") from exc


def _fail_on(template: FaultTemplate, what: str, issues: list[Issue]) -> None:
    if issues:
        raise FaultTemplateError(f"template {template.name!r} ({template.path}) {what}: "
                                 + "; ".join(map(str, issues)))


def deploy_issues(rendered: Mapping[str, Any], ctx: RenderContext) -> list[Issue]:
    """What stops a valid AWS template from being deployed by this program."""
    issues = [Issue(f, "is not deployed by tradai_infra (the FIS role has no permissions "
                       "for it)") for f in UNSUPPORTED_FIELDS if f in rendered]
    if rendered.get("roleArn") != ctx.fis_role_arn:
        issues.append(Issue("roleArn", f"{rendered.get('roleArn')!r} must be ${{fis_role_arn}}: "
                                       "the program grants that role what the templates need"))
    issues.extend(_limit_issues(rendered))
    issues.extend(_action_issues(rendered))
    return issues


def _too_long(path: str, value: Any, limit: int) -> list[Issue]:
    if isinstance(value, str) and len(value) > limit:
        return [Issue(path, f"is {len(value)} characters; AWS FIS allows at most {limit}")]
    return []


def _limit_issues(body: Mapping[str, Any]) -> list[Issue]:
    issues = _too_long("description", body.get("description"), MAX_DESCRIPTION)
    for name, target in (body.get("targets") or {}).items():
        path = f"targets.{name}"
        issues += _too_long(path, name, MAX_NAME)
        if "selectionMode" not in target:
            issues.append(Issue(f"{path}.selectionMode", "is required by AWS FIS"))
        if len(target.get("resourceArns") or ()) > MAX_RESOURCE_ARNS:
            issues.append(Issue(f"{path}.resourceArns",
                                f"AWS FIS takes at most {MAX_RESOURCE_ARNS} ARNs"))
        if len(target.get("resourceTags") or {}) > MAX_RESOURCE_TAGS:
            issues.append(Issue(f"{path}.resourceTags",
                                f"AWS FIS takes at most {MAX_RESOURCE_TAGS} tags"))
    for name, action in (body.get("actions") or {}).items():
        issues += _too_long(f"actions.{name}", name, MAX_NAME)
        issues += _too_long(f"actions.{name}.description", action.get("description"),
                            MAX_DESCRIPTION)
    return issues


def _action_issues(body: Mapping[str, Any]) -> list[Issue]:
    issues = []
    for name, action in (body.get("actions") or {}).items():
        if action["actionId"] not in RULES:
            issues.append(Issue(f"actions.{name}.actionId",
                                f"{action['actionId']!r} has no IAM rule in "
                                "tradai_infra.fis_permissions"))
        if len(action.get("targets") or {}) > 1:
            issues.append(Issue(f"actions.{name}.targets",
                                "the Pulumi AWS provider takes one target per action"))
    return issues


def alarm_refs(raw: Mapping[str, Any]) -> dict[int, str]:
    """Stop condition index -> the spec alarm it names with ``${alarm:NAME}``."""
    refs = {}
    for i, cond in enumerate(raw.get("stopConditions") or ()):
        match = _ALARM_REF.match(str(cond.get("value", "")))
        if match:
            refs[i] = match.group(1)
    return refs


def missing_alarms_reason(raw: Mapping[str, Any], topo: Topology) -> str | None:
    """A stop condition needs its alarm deployed; a spec without it cannot run the template
    safely on AWS, so the template is left out (the tests prove none is with the spec)."""
    known = {a.name for a in topo.alarms}
    missing = sorted({n for n in alarm_refs(raw).values() if n not in known})
    if not missing:
        return None
    return (f"stop condition alarm{'s' if len(missing) > 1 else ''} {', '.join(missing)} "
            "not in the topology spec")


# -- declaration ---------------------------------------------------------------------------


def build_faults(ctx: Context, net: Network, alarms: Mapping[str, aws.cloudwatch.MetricAlarm],
                 plan: FaultPlan) -> dict[str, aws.fis.ExperimentTemplate]:
    """The FIS role and one experiment template per deployed fault template."""
    _report_left_out(plan.left_out)
    templates: dict[str, aws.fis.ExperimentTemplate] = {}
    if plan.deployed:
        rendered = ctx.account_id.apply(lambda account: {
            name: t.render(render_context(ctx.topo, ctx.settings, account))
            for name, t in plan.deployed.items()})
        role, policy = _fis_role(ctx, net, rendered)
        for name, template in plan.deployed.items():
            needs = [role, policy, *(alarms[a] for a in alarm_refs(template.body).values())]
            templates[name] = _experiment_template(ctx, name, rendered.apply(
                lambda bodies, n=name: bodies[n]), needs)
    pulumi.export(DEPLOYED_OUTPUT, {n: t.id for n, t in templates.items()})
    return templates


def _report_left_out(left_out: Mapping[str, str]) -> None:
    if left_out:
        pulumi.log.info("FIS experiment templates left out: " + "; ".join(
            f"{name} ({reason})" for name, reason in left_out.items()))
    pulumi.export(LEFT_OUT_OUTPUT, dict(left_out))


def _fis_role(ctx: Context, net: Network, rendered: pulumi.Output[dict[str, Any]],
              ) -> tuple[aws.iam.Role, aws.iam.RolePolicy]:
    name = ctx.name(FIS_ROLE)
    scope = pulumi.Output.all(ctx.account_id, net.vpc.arn).apply(
        lambda v: Scope(region=ctx.region, account=v[0], vpc_arn=v[1]))
    role = aws.iam.Role(name, name=name, assume_role_policy=scope.apply(trust_policy),
                        tags=ctx.tags)
    policy = aws.iam.RolePolicy(
        f"{name}-policy", role=role.id,
        policy=pulumi.Output.all(rendered, scope).apply(
            lambda v: policy_document(fis_statements(v[0].values(), v[1]))),
        opts=pulumi.ResourceOptions(parent=role))
    return role, policy


def _experiment_template(ctx: Context, name: str, body: pulumi.Output[dict[str, Any]],
                         needs: list[pulumi.Resource]) -> aws.fis.ExperimentTemplate:
    resource_name = ctx.name(f"fis-{name}")
    return aws.fis.ExperimentTemplate(
        resource_name,
        description=body.apply(lambda b: b["description"]),
        role_arn=body.apply(lambda b: b["roleArn"]),  # the FIS role's ARN, rendered
        actions=body.apply(_actions),
        targets=body.apply(_targets),
        stop_conditions=body.apply(_stop_conditions),
        experiment_options=body.apply(_options),
        tags=body.apply(lambda b: {**ctx.tags, "Name": resource_name, **(b.get("tags") or {})}),
        opts=pulumi.ResourceOptions(depends_on=needs),
    )


def _actions(body: Mapping[str, Any]) -> list[aws.fis.ExperimentTemplateActionArgs]:
    return [aws.fis.ExperimentTemplateActionArgs(
        name=name,
        action_id=a["actionId"],
        description=a.get("description"),
        parameters=[aws.fis.ExperimentTemplateActionParameterArgs(key=k, value=v)
                    for k, v in (a.get("parameters") or {}).items()] or None,
        start_afters=a.get("startAfter") or None,
        target=next((aws.fis.ExperimentTemplateActionTargetArgs(key=k, value=v)
                     for k, v in (a.get("targets") or {}).items()), None),
    ) for name, a in body["actions"].items()]


def _targets(body: Mapping[str, Any]) -> list[aws.fis.ExperimentTemplateTargetArgs]:
    return [aws.fis.ExperimentTemplateTargetArgs(
        name=name,
        resource_type=t["resourceType"],
        selection_mode=t["selectionMode"],
        resource_arns=t.get("resourceArns") or None,
        resource_tags=[aws.fis.ExperimentTemplateTargetResourceTagArgs(key=k, value=v)
                       for k, v in (t.get("resourceTags") or {}).items()] or None,
        filters=[aws.fis.ExperimentTemplateTargetFilterArgs(path=f["path"], values=f["values"])
                 for f in t.get("filters") or ()] or None,
        parameters=t.get("parameters") or None,
    ) for name, t in (body.get("targets") or {}).items()]


def _stop_conditions(body: Mapping[str, Any]) -> list[aws.fis.ExperimentTemplateStopConditionArgs]:
    return [aws.fis.ExperimentTemplateStopConditionArgs(source=c["source"], value=c.get("value"))
            for c in body["stopConditions"]]


def _options(body: Mapping[str, Any]) -> aws.fis.ExperimentTemplateExperimentOptionsArgs | None:
    options = body.get("experimentOptions")
    if not options:
        return None
    return aws.fis.ExperimentTemplateExperimentOptionsArgs(
        account_targeting=options.get("accountTargeting"),
        empty_target_resolution_mode=options.get("emptyTargetResolutionMode"))
