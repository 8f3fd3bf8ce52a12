"""Validation of a whole template (the CreateExperimentTemplate input) against the catalog.

Every problem is an ``Issue`` naming its field path, e.g.
``actions.TerminateNat.parameters.duration: 'two minutes' is not an ISO 8601 duration``.
A template with any issue is refused as a whole: nothing of it is injected.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from tradai.faults.catalog import ACTIONS, RESOURCE_TYPES, ActionSpec
from tradai.faults.selection import parse_selection_mode

TOP_LEVEL = {"description", "tags", "roleArn", "targets", "actions", "stopConditions",
             "experimentOptions", "logConfiguration", "experimentReportConfiguration",
             "clientToken"}
TARGET_FIELDS = {"resourceType", "resourceArns", "resourceTags", "parameters", "filters",
                 "selectionMode"}
ACTION_FIELDS = {"actionId", "description", "parameters", "targets", "startAfter"}
_ALARM_ARN = re.compile(r"^arn:aws[a-z-]*:cloudwatch:[a-z0-9-]+:\d{12}:alarm:.+$")
_ROLE_ARN = re.compile(r"^arn:aws[a-z-]*:iam::\d{12}:role/.+$")


@dataclass(frozen=True)
class Issue:
    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}"


class TemplateInvalid(ValueError):
    def __init__(self, issues: list[Issue], name: str | None = None) -> None:
        self.issues = issues
        self.name = name
        head = f"template {name!r} is invalid" if name else "the template is invalid"
        super().__init__(f"{head}: " + "; ".join(map(str, issues)))


def validate_template(body: Mapping[str, Any]) -> list[Issue]:
    """Every problem in ``body``; empty when the template can be created and run."""
    issues: list[Issue] = []
    if not isinstance(body, Mapping):
        return [Issue("(template)", "must be a JSON object")]
    for key in body:
        if key not in TOP_LEVEL:
            issues.append(Issue(key, "is not a field of an experiment template"))
    if not isinstance(body.get("description"), str) or not body.get("description"):
        issues.append(Issue("description", "is required (a non-empty string)"))
    role = body.get("roleArn")
    if not isinstance(role, str) or not _ROLE_ARN.match(role):
        issues.append(Issue("roleArn", f"{role!r} is not an IAM role ARN"))
    _check_tags(body.get("tags"), "tags", issues)
    targets = body.get("targets") or {}
    if not isinstance(targets, Mapping):
        issues.append(Issue("targets", "must be an object of named targets"))
        targets = {}
    for name, target in targets.items():
        _check_target(name, target, issues)
    actions = body.get("actions")
    if not isinstance(actions, Mapping) or not actions:
        issues.append(Issue("actions", "is required (at least one named action)"))
        actions = {}
    for name, action in actions.items():
        _check_action(name, action, targets, actions, issues)
    issues.extend(_cycles(actions))
    _check_stop_conditions(body.get("stopConditions"), issues)
    _check_options(body.get("experimentOptions"), issues)
    return issues


def _check_tags(tags: Any, path: str, issues: list[Issue]) -> None:
    if tags is None:
        return
    if not isinstance(tags, Mapping) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in tags.items()):
        issues.append(Issue(path, "must map tag keys to string values"))


def _check_target(name: str, target: Any, issues: list[Issue]) -> None:
    path = f"targets.{name}"
    if not isinstance(target, Mapping):
        issues.append(Issue(path, "must be an object"))
        return
    for key in target:
        if key not in TARGET_FIELDS:
            issues.append(Issue(f"{path}.{key}", "is not a field of a target"))
    rtype = RESOURCE_TYPES.get(target.get("resourceType", ""))
    if rtype is None:
        issues.append(Issue(f"{path}.resourceType",
                            f"{target.get('resourceType')!r} is not a supported resource type "
                            f"({', '.join(sorted(RESOURCE_TYPES))})"))
    try:
        parse_selection_mode(target.get("selectionMode"))
    except ValueError as exc:
        issues.append(Issue(f"{path}.selectionMode", str(exc)))
    arns, tags = target.get("resourceArns"), target.get("resourceTags")
    params, filters = target.get("parameters"), target.get("filters")
    if arns and tags:
        issues.append(Issue(path, "resourceArns and resourceTags cannot both be given"))
    # FIS identifies resources by ARNs or tags; types with target parameters (ECS tasks:
    # cluster, service) may be identified by those instead.
    by_params = bool(params) and rtype is not None and bool(rtype.parameters)
    if not (arns or tags or by_params):
        issues.append(Issue(path, "needs resourceArns or resourceTags to identify its resources"
                                  + (" (or parameters)" if rtype and rtype.parameters else "")))
    if arns is not None and (not isinstance(arns, list)
                             or not all(isinstance(a, str) and a.startswith("arn:")
                                        for a in arns)):
        issues.append(Issue(f"{path}.resourceArns", "must be a list of ARNs"))
    _check_tags(tags, f"{path}.resourceTags", issues)
    if params is not None:
        if not isinstance(params, Mapping):
            issues.append(Issue(f"{path}.parameters", "must be an object"))
        else:
            for key, value in params.items():
                if rtype is not None and key not in rtype.parameters:
                    allowed = ", ".join(sorted(rtype.parameters)) or "none"
                    issues.append(Issue(f"{path}.parameters.{key}",
                                        f"is not a parameter of {rtype.name} (allowed: "
                                        f"{allowed})"))
                elif not isinstance(value, str) or not value:
                    issues.append(Issue(f"{path}.parameters.{key}", "must be a non-empty string"))
            if "service" in params and "cluster" not in params:
                issues.append(Issue(f"{path}.parameters.cluster",
                                    "is required when service is given"))
    if filters is not None:
        _check_filters(filters, path, rtype.filter_roots if rtype else None, rtype, issues)


def _check_filters(filters: Any, path: str, roots: frozenset[str] | None, rtype: Any,
                   issues: list[Issue]) -> None:
    if not isinstance(filters, list):
        issues.append(Issue(f"{path}.filters", "must be a list of {path, values}"))
        return
    for i, flt in enumerate(filters):
        fpath = f"{path}.filters[{i}]"
        if not isinstance(flt, Mapping) or not isinstance(flt.get("path"), str):
            issues.append(Issue(fpath, "must be an object with a path and values"))
            continue
        values = flt.get("values")
        if not isinstance(values, list) or not values or not all(
                isinstance(v, str) for v in values):
            issues.append(Issue(f"{fpath}.values", "must be a non-empty list of strings"))
        root = flt["path"].split(".", 1)[0]
        if roots is not None and root not in roots:
            issues.append(Issue(f"{fpath}.path",
                                f"{flt['path']!r} is not a supported filter path for "
                                f"{rtype.name} (paths start with one of "
                                f"{', '.join(sorted(roots)) or 'nothing'})"))


def _check_action(name: str, action: Any, targets: Mapping[str, Any],
                  actions: Mapping[str, Any], issues: list[Issue]) -> None:
    path = f"actions.{name}"
    if not isinstance(action, Mapping):
        issues.append(Issue(path, "must be an object"))
        return
    for key in action:
        if key not in ACTION_FIELDS:
            issues.append(Issue(f"{path}.{key}", "is not a field of an action"))
    spec = ACTIONS.get(action.get("actionId", ""))
    if spec is None:
        issues.append(Issue(f"{path}.actionId",
                            f"{action.get('actionId')!r} is not a supported action"))
    else:
        _check_action_targets(spec, path, action.get("targets") or {}, targets, issues)
        _check_parameters(spec, path, action.get("parameters") or {}, issues)
    after = action.get("startAfter") or []
    if not isinstance(after, list):
        issues.append(Issue(f"{path}.startAfter", "must be a list of action names"))
        return
    for other in after:
        if other == name:
            issues.append(Issue(f"{path}.startAfter", f"{other!r}: an action cannot start "
                                                      f"after itself"))
        elif other not in actions:
            issues.append(Issue(f"{path}.startAfter", f"{other!r} names no action of the "
                                                      f"template"))


def _check_action_targets(spec: ActionSpec, path: str, given: Any, targets: Mapping[str, Any],
                          issues: list[Issue]) -> None:
    if not isinstance(given, Mapping):
        issues.append(Issue(f"{path}.targets", "must map a target key to a target name"))
        return
    for key, target_name in given.items():
        if key not in spec.targets:
            allowed = ", ".join(spec.targets) or "none"
            issues.append(Issue(f"{path}.targets.{key}",
                                f"is not a target key of {spec.action_id} (allowed: "
                                f"{allowed})"))
            continue
        target = targets.get(target_name)
        if target is None:
            issues.append(Issue(f"{path}.targets.{key}",
                                f"{target_name!r} names no target of the template"))
            continue
        rtype = target.get("resourceType") if isinstance(target, Mapping) else None
        if rtype not in spec.targets[key]:
            issues.append(Issue(f"{path}.targets.{key}",
                                f"target {target_name!r} is of resource type {rtype!r}; "
                                f"{spec.action_id} takes {', '.join(spec.targets[key])}"))
    for key in spec.targets:
        if key not in given:
            issues.append(Issue(f"{path}.targets.{key}", f"is required by {spec.action_id}"))


def _check_parameters(spec: ActionSpec, path: str, given: Any, issues: list[Issue]) -> None:
    if not isinstance(given, Mapping):
        issues.append(Issue(f"{path}.parameters", "must be an object of string values"))
        return
    for key, value in given.items():
        param = spec.param(key)
        ppath = f"{path}.parameters.{key}"
        if param is None:
            allowed = ", ".join(x.name for x in spec.params) or "none"
            issues.append(Issue(ppath, f"is not a parameter of {spec.action_id} (allowed: "
                                       f"{allowed})"))
        elif not isinstance(value, str):
            issues.append(Issue(ppath, f"{value!r} must be a string (FIS parameters are "
                                       f"strings)"))
        elif (msg := param.check(value)) is not None:
            issues.append(Issue(ppath, msg))
    for param in spec.params:
        if param.required and param.name not in given:
            issues.append(Issue(f"{path}.parameters.{param.name}",
                                f"is required by {spec.action_id}"))
    if spec.cross is not None:
        strings = {k: v for k, v in given.items() if isinstance(v, str)}
        for name, msg in spec.cross(strings):
            issues.append(Issue(f"{path}.parameters.{name}", msg))


def _cycles(actions: Mapping[str, Any]) -> list[Issue]:
    """startAfter must form no cycle (else none of the cycle's actions could ever start)."""
    graph = {name: [a for a in (act.get("startAfter") or []) if a in actions and a != name]
             for name, act in actions.items()
             if isinstance(act, Mapping) and isinstance(act.get("startAfter") or [], list)}
    state: dict[str, int] = {}  # 1 visiting, 2 done
    found: list[Issue] = []

    def visit(node: str, trail: list[str]) -> None:
        state[node] = 1
        for nxt in graph.get(node, []):
            if state.get(nxt) == 1:
                cycle = [*trail[trail.index(nxt):], nxt] if nxt in trail else [node, nxt]
                found.append(Issue(f"actions.{node}.startAfter",
                                   "startAfter forms a cycle: " + " -> ".join(cycle)))
            elif nxt not in state:
                visit(nxt, [*trail, nxt])
        state[node] = 2

    for name in graph:
        if name not in state:
            visit(name, [name])
    return found


def _check_stop_conditions(conditions: Any, issues: list[Issue]) -> None:
    if not isinstance(conditions, list) or not conditions:
        issues.append(Issue("stopConditions", "is required (use [{\"source\": \"none\"}] for "
                                              "no stop condition)"))
        return
    for i, cond in enumerate(conditions):
        path = f"stopConditions[{i}]"
        source = cond.get("source") if isinstance(cond, Mapping) else None
        if source == "none":
            continue
        if source != "aws:cloudwatch:alarm":
            issues.append(Issue(f"{path}.source", f"{source!r} is not a stop condition source "
                                                  "(aws:cloudwatch:alarm or none)"))
            continue
        value = cond.get("value")
        if not isinstance(value, str) or not _ALARM_ARN.match(value):
            issues.append(Issue(f"{path}.value", f"{value!r}: a stop condition whose source is "
                                                 "aws:cloudwatch:alarm needs the alarm's ARN"))


def _check_options(options: Any, issues: list[Issue]) -> None:
    if options is None:
        return
    if not isinstance(options, Mapping):
        issues.append(Issue("experimentOptions", "must be an object"))
        return
    mode = options.get("emptyTargetResolutionMode", "fail")
    if mode not in ("fail", "skip"):
        issues.append(Issue("experimentOptions.emptyTargetResolutionMode",
                            f"{mode!r} is not fail or skip"))
    targeting = options.get("accountTargeting", "single-account")
    if targeting != "single-account":
        issues.append(Issue("experimentOptions.accountTargeting",
                            f"{targeting!r}: only single-account experiments are supported"))
