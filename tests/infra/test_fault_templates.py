"""The fault templates of scenarios/faults/ as AWS FIS experiment templates: each ``aws``
template deployed as the file renders, ``harness`` ones left out with their reason, one FIS
role with exactly what the deployed actions need, and a broken template stopping the program
before any resource is declared."""

from __future__ import annotations

import dataclasses
import json
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from unittest.mock import patch

import pulumi
import pytest

from tests.infra.conftest import Deployed
from tests.infra.mocks import ACCOUNT, STACK, RecordingMocks, Resource, run_program
from tradai.faults import FaultTemplate, RenderContext, load_templates
from tradai.topology import Topology
from tradai_infra.errors import FaultTemplateError, InfraConfigError
from tradai_infra.faults import plan_faults
from tradai_infra.fis_permissions import Scope, fis_statements

FIS = "aws:fis/experimentTemplate:ExperimentTemplate"
ROLE = "aws:iam/role:Role"
REGION = "eu-central-1"
FAULTS = Path(__file__).resolve().parents[2] / "scenarios" / "faults"

# The permissions each FIS action needs, as the FIS actions reference lists them
# (https://docs.aws.amazon.com/fis/latest/userguide/fis-actions-reference.html); stated here
# independently of tradai_infra.fis_permissions.
NEEDS: dict[str, set[str]] = {
    "aws:ec2:terminate-instances": {"ec2:TerminateInstances", "ec2:DescribeInstances"},
    # + ec2:DescribeInstances when completeIfInstancesTerminated is true
    "aws:ec2:stop-instances": {"ec2:StopInstances", "ec2:StartInstances"},
    "aws:ecs:stop-task": {"ecs:DescribeTasks", "ecs:ListTasks", "ecs:StopTask",
                          "tag:GetResources"},
    "aws:network:disrupt-connectivity": {
        "ec2:CreateNetworkAcl", "ec2:CreateNetworkAclEntry", "ec2:CreateTags",
        "ec2:DeleteNetworkAcl", "ec2:DescribeManagedPrefixLists", "ec2:DescribeNetworkAcls",
        "ec2:DescribeSubnets", "ec2:DescribeVpcs", "ec2:GetManagedPrefixListEntries",
        "ec2:ReplaceNetworkAclAssociation"},
    "aws:ec2:asg-insufficient-instance-capacity-error": {
        "ec2:InjectApiError", "autoscaling:DescribeAutoScalingGroups"},
    "aws:fis:inject-api-internal-error": {"fis:InjectApiInternalError"},
    "aws:fis:inject-api-throttle-error": {"fis:InjectApiThrottleError"},
    "aws:fis:inject-api-unavailable-error": {"fis:InjectApiUnavailableError"},
    "aws:fis:wait": set(),
}
STOP_CONDITION_NEEDS = {"cloudwatch:DescribeAlarms"}
# Actions that take no resource ARN: only these may have Resource "*".
UNSCOPABLE = {"ec2:DescribeInstances", "ec2:DescribeSubnets", "ec2:DescribeVpcs",
              "ec2:DescribeNetworkAcls", "ec2:DescribeManagedPrefixLists", "ecs:ListTasks",
              "tag:GetResources", "autoscaling:DescribeAutoScalingGroups", "ec2:InjectApiError"}


# -- what the files say ---------------------------------------------------------------------


def render_context(topo: Topology) -> RenderContext:
    return RenderContext(project=topo.project, env=STACK, region=REGION, account=ACCOUNT)


def harness_ids(template: FaultTemplate) -> list[str]:
    return sorted({a["actionId"] for a in template.body["actions"].values()
                   if a["actionId"].startswith("tradai:")})


def aws_templates() -> dict[str, FaultTemplate]:
    return {n: t for n, t in load_templates(FAULTS).items() if not harness_ids(t)}


def harness_templates() -> dict[str, FaultTemplate]:
    return {n: t for n, t in load_templates(FAULTS).items() if harness_ids(t)}


def without_empty(value: Any) -> Any:
    """Drop absent, empty and null fields so the file and the provider's shape compare."""
    if isinstance(value, dict):
        kept = {k: without_empty(v) for k, v in value.items()}
        return {k: v for k, v in kept.items() if v not in (None, {}, [])}
    if isinstance(value, list):
        return [without_empty(v) for v in value]
    return value


def as_fis_input(inputs: dict[str, Any]) -> dict[str, Any]:
    """A recorded ExperimentTemplate back in the CreateExperimentTemplate shape (the tags are
    compared apart: the program adds its own)."""
    def pairs(items: list[dict] | None) -> dict[str, str]:
        return {p["key"]: p["value"] for p in items or ()}

    return without_empty({
        "description": inputs["description"],
        "roleArn": inputs["roleArn"],
        "targets": {t["name"]: {
            "resourceType": t["resourceType"], "selectionMode": t["selectionMode"],
            "resourceArns": t.get("resourceArns"), "resourceTags": pairs(t.get("resourceTags")),
            "filters": t.get("filters"), "parameters": t.get("parameters")}
            for t in inputs.get("targets") or ()},
        "actions": {a["name"]: {
            "actionId": a["actionId"], "description": a.get("description"),
            "parameters": pairs(a.get("parameters")), "startAfter": a.get("startAfters"),
            "targets": pairs([a["target"]] if a.get("target") else [])}
            for a in inputs["actions"]},
        "stopConditions": inputs["stopConditions"],
        "experimentOptions": inputs.get("experimentOptions"),
    })


def fis_templates(resources: list[Resource]) -> dict[str, Resource]:
    prefix = f"tradai-{STACK}-fis-"
    return {r.name.removeprefix(prefix): r for r in resources if r.typ == FIS}


# -- running the program ---------------------------------------------------------------------


@dataclasses.dataclass
class Run:
    resources: list[Resource]
    exports: dict[str, Any]
    logs: list[str]

    def policy(self) -> dict[str, Any]:
        [role] = [r for r in self.resources if r.typ == ROLE and r.name == f"tradai-{STACK}-fis"]
        [policy] = [r for r in self.resources if r.typ == "aws:iam/rolePolicy:RolePolicy"
                    and r.inputs["role"] == role.id]
        return json.loads(policy.inputs["policy"])


def run_deploy(topo: Topology, settings: Any) -> Run:
    """The program under mocks, with its stack outputs and info log lines recorded."""
    from tradai_infra.program import deploy

    exports: dict[str, Any] = {}
    logs: list[str] = []
    export, info = pulumi.export, pulumi.log.info

    def record_export(name: str, value: Any) -> None:
        pulumi.Output.from_input(value).apply(lambda v: exports.__setitem__(name, v))
        export(name, value)

    def record_info(msg: str, *args: Any, **kwargs: Any) -> None:
        logs.append(msg)
        info(msg, *args, **kwargs)

    with patch.object(pulumi, "export", record_export), \
            patch.object(pulumi.log, "info", record_info):
        mocks = run_program(lambda: deploy(settings, topo))
    return Run(mocks.resources, exports, logs)


@pytest.fixture(scope="module")
def run(topo: Topology, settings: Any) -> Run:
    return run_deploy(topo, settings)


def fault_dir(tmp_path: Path, *names: str) -> Path:
    for name in names:
        shutil.copy(FAULTS / f"{name}.json", tmp_path / f"{name}.json")
    return tmp_path


# -- deployed as the files render ------------------------------------------------------------


def test_every_aws_template_is_declared_as_the_file_renders(deployed: Deployed):
    declared = fis_templates(deployed.resources)
    assert set(declared) == set(aws_templates()) and declared, "one FIS template per aws file"
    rc = render_context(deployed.topo)
    for name, template in aws_templates().items():
        expected = template.render(rc)
        inputs = declared[name].inputs
        file_tags = expected.pop("tags", {})
        assert as_fis_input(inputs) == without_empty(expected), name
        assert file_tags.items() <= inputs["tags"].items(), name


def test_no_harness_template_is_declared_and_each_is_reported_with_its_reason(run: Run):
    harness = harness_templates()
    assert harness, "the repository has harness templates"
    assert not set(harness) & set(fis_templates(run.resources))
    expected = {n: f"harness action{'s' if len(ids) > 1 else ''} {', '.join(ids)}"
                for n, t in harness.items() for ids in [harness_ids(t)]}
    assert run.exports["fault_templates_left_out"] == expected
    [line] = [m for m in run.logs if "left out" in m]
    for name, reason in expected.items():
        assert f"{name} ({reason})" in line
    assert set(run.exports["fault_templates"]) == set(aws_templates())


def test_every_aws_template_of_the_repository_is_deployed(topo: Topology, settings: Any):
    """None is left out for a stop-condition alarm the spec lacks (a misspelt alarm would)."""
    plan = plan_faults(topo, settings)
    assert set(plan.deployed) == set(aws_templates())
    assert set(plan.left_out) == set(harness_templates())


def test_a_template_whose_stop_alarm_the_spec_lacks_is_left_out(topo: Topology,
                                                                settings: Any):
    lacking = topo.model_copy(update={"alarms": [a for a in topo.alarms
                                                 if a.name != "backtest-dlq-not-empty"]})
    plan = plan_faults(lacking, settings)
    assert plan.left_out["nat-instance-termination"] == \
        "stop condition alarm backtest-dlq-not-empty not in the topology spec"
    assert "service-task-stop" in plan.deployed  # no alarm: unaffected


def test_targets_and_stop_conditions_name_what_the_program_deploys(deployed: Deployed):
    """Tags, names and ARNs the templates select by are the ones the program gives its
    resources (else the experiment finds nothing on AWS)."""
    subnet_names = {r.inputs["tags"]["Name"] for r in deployed.of_type("aws:ec2/subnet:Subnet")}
    groups = deployed.of_type("aws:autoscaling/group:Group")
    group_names = {g.inputs["name"] for g in groups}
    group_name_tags = {t["value"] for g in groups for t in g.inputs["tags"] if t["key"] == "Name"}
    clusters = {c.inputs["name"] for c in deployed.of_type("aws:ecs/cluster:Cluster")}
    services = {s.inputs["name"] for s in deployed.of_type("aws:ecs/service:Service")}
    roles = {f"arn:aws:iam::{ACCOUNT}:role/{r.inputs['name']}" for r in deployed.of_type(ROLE)}
    alarms = {f"arn:aws:cloudwatch:{REGION}:{ACCOUNT}:alarm:{a.inputs['name']}"
              for a in deployed.of_type("aws:cloudwatch/metricAlarm:MetricAlarm")}
    selectors = {("aws:ec2:subnet", "Name"): subnet_names,
                 ("aws:ec2:instance", "aws:autoscaling:groupName"): group_names,
                 ("aws:ec2:autoscaling-group", "Name"): group_name_tags}
    rc = render_context(deployed.topo)
    for name, template in aws_templates().items():
        body = template.render(rc)
        assert body["roleArn"] in roles, name
        for target in body["targets"].values():
            kind = target["resourceType"]
            for key, value in (target.get("resourceTags") or {}).items():
                assert value in selectors[(kind, key)], (name, kind, key, value)
            params = target.get("parameters") or {}
            assert params.get("cluster", next(iter(clusters))) in clusters, name
            assert params.get("service", next(iter(services))) in services, name
            assert set(target.get("resourceArns") or ()) <= roles, name
        for cond in body["stopConditions"]:
            assert cond["source"] == "none" or cond["value"] in alarms, name


# -- the FIS role -----------------------------------------------------------------------------


def statements(policy: dict[str, Any]) -> Iterator[tuple[set[str], list[str], dict]]:
    for s in policy["Statement"]:
        actions = {s["Action"]} if isinstance(s["Action"], str) else set(s["Action"])
        resources = [s["Resource"]] if isinstance(s["Resource"], str) else s["Resource"]
        assert s["Effect"] == "Allow"
        yield actions, resources, s.get("Condition", {})


def needed(bodies: list[dict[str, Any]]) -> set[str]:
    out: set[str] = set()
    for body in bodies:
        for action in body["actions"].values():
            out |= NEEDS[action["actionId"]]
            if (action.get("parameters") or {}).get("completeIfInstancesTerminated") == "true":
                out.add("ec2:DescribeInstances")
        if any(c["source"] == "aws:cloudwatch:alarm" for c in body["stopConditions"]):
            out |= STOP_CONDITION_NEEDS
    return out


def granted(policy: dict[str, Any]) -> dict[str, list[tuple[list[str], dict]]]:
    """IAM action -> the (resources, condition) of each statement granting it."""
    out: dict[str, list[tuple[list[str], dict]]] = {}
    for actions, resources, condition in statements(policy):
        for action in actions:
            out.setdefault(action, []).append((resources, condition))
    return out


def test_fis_role_is_trusted_by_fis_for_this_account_only(deployed: Deployed):
    role = deployed.one(ROLE, f"tradai-{STACK}-fis")
    [trust] = json.loads(role.inputs["assumeRolePolicy"])["Statement"]
    assert trust["Principal"] == {"Service": "fis.amazonaws.com"}
    assert trust["Condition"]["StringEquals"] == {"aws:SourceAccount": ACCOUNT}
    assert trust["Condition"]["ArnLike"] == {
        "aws:SourceArn": f"arn:aws:fis:{REGION}:{ACCOUNT}:experiment/*"}
    rc = render_context(deployed.topo)
    assert {t.inputs["roleArn"] for t in deployed.of_type(FIS)} == {rc.fis_role_arn} == \
        {f"arn:aws:iam::{ACCOUNT}:role/{role.inputs['name']}"}


def test_fis_role_allows_exactly_what_the_deployed_actions_need(deployed: Deployed):
    policy = deployed.role_policy(deployed.one(ROLE, f"tradai-{STACK}-fis"))
    rc = render_context(deployed.topo)
    assert set(granted(policy)) == needed([t.render(rc) for t in aws_templates().values()])
    for actions, resources, _ in statements(policy):
        assert not any(a == "*" or a.endswith(":*") for a in actions), actions
        if "*" in resources:
            assert actions <= UNSCOPABLE, actions


def test_fis_role_is_scoped_to_the_targets(deployed: Deployed):
    """Each mutating permission names the targets' resources (or FIS's own tag on what FIS
    creates) as the FIS user guide allows."""
    g = granted(deployed.role_policy(deployed.one(ROLE, f"tradai-{STACK}-fis")))
    arn = f"arn:aws:%s:{REGION}:{ACCOUNT}:%s"
    nat = {"StringEquals": {"aws:ResourceTag/aws:autoscaling:groupName": f"tradai-{STACK}-nat-asg"}}
    for action in ("ec2:TerminateInstances", "ec2:StopInstances", "ec2:StartInstances"):
        assert g[action] == [([arn % ("ec2", "instance/*")], nat)], action
    cluster = f"tradai-{STACK}-strategies"
    for action in ("ecs:StopTask", "ecs:DescribeTasks"):
        assert g[action] == [([arn % ("ecs", f"task/{cluster}/*")], {})], action
    assert g["ecs:ListTasks"] == [(["*"], {"ArnEquals": {
        "ecs:cluster": arn % ("ecs", f"cluster/{cluster}")}})]
    fis_tag = {"StringEquals": {"ec2:ResourceTag/managedByFIS": "true"}}
    for action in ("ec2:CreateNetworkAclEntry", "ec2:DeleteNetworkAcl"):
        assert g[action] == [([arn % ("ec2", "network-acl/*")], fis_tag)], action
    subnets = {c["StringEquals"]["aws:ResourceTag/Name"]
               for r, c in g["ec2:ReplaceNetworkAclAssociation"] if "StringEquals" in c}
    assert subnets == {f"tradai-{STACK}-{tier}-a" for tier in ("public", "private", "database")}
    [(_, inject)] = g["ec2:InjectApiError"]
    assert inject["StringEquals"] == {
        "ec2:FisActionId": "aws:ec2:asg-insufficient-instance-capacity-error"}
    [(resources, api_error)] = g["fis:InjectApiInternalError"]
    assert resources == [arn % ("fis", "experiment/*")]
    assert api_error == {"StringEquals": {"fis:Service": "ec2"}, "ForAllValues:StringEquals": {
        "fis:Targets": [f"arn:aws:iam::{ACCOUNT}:role/tradai-{STACK}-update-nat-routes-fn"]}}
    assert g["cloudwatch:DescribeAlarms"] == [
        ([arn % ("cloudwatch", f"alarm:tradai-{STACK}-backtest-dlq-not-empty")], {})]


def test_targets_given_by_arn_scope_the_permissions_to_those_arns():
    """The repository's templates select by tags; a template naming ARNs gets exactly those."""
    scope = Scope(region=REGION, account=ACCOUNT, vpc_arn="arn:aws:ec2:vpc")
    instance = f"arn:aws:ec2:{REGION}:{ACCOUNT}:instance/i-0123"
    group = f"arn:aws:autoscaling:{REGION}:{ACCOUNT}:autoScalingGroup:u:autoScalingGroupName/g"
    body = {
        "targets": {"I": {"resourceType": "aws:ec2:instance", "resourceArns": [instance]},
                    "G": {"resourceType": "aws:ec2:autoscaling-group", "resourceArns": [group]}},
        "actions": {
            "Stop": {"actionId": "aws:ec2:terminate-instances", "targets": {"Instances": "I"}},
            "Ice": {"actionId": "aws:ec2:asg-insufficient-instance-capacity-error",
                    "targets": {"AutoScalingGroups": "G"}},
            "Wait": {"actionId": "aws:fis:wait"}},
        "stopConditions": [{"source": "none"}]}
    g: dict[str, list] = {}
    for s in fis_statements([body], scope):
        for action in s.actions:
            g.setdefault(action, []).append((list(s.resources), s.conditions))
    assert g["ec2:TerminateInstances"] == [([instance], {})]
    assert g["ec2:InjectApiError"] == [(["*"], {
        "StringEquals": {"ec2:FisActionId": "aws:ec2:asg-insufficient-instance-capacity-error"},
        "ForAllValues:ArnLike": {"ec2:FisTargetArns": [group]}})]
    assert set(g) == NEEDS["aws:ec2:terminate-instances"] | \
        NEEDS["aws:ec2:asg-insufficient-instance-capacity-error"]


def test_removing_a_template_removes_its_permissions(topo: Topology, settings: Any,
                                                     tmp_path: Path):
    only = dataclasses.replace(settings, fault_templates_dir=str(
        fault_dir(tmp_path, "nat-instance-termination", "exchange-outage")))
    result = run_deploy(topo, only)
    assert set(fis_templates(result.resources)) == {"nat-instance-termination"}
    assert set(granted(result.policy())) == {
        "ec2:TerminateInstances", "ec2:DescribeInstances", "cloudwatch:DescribeAlarms"}
    assert result.exports["fault_templates_left_out"] == {
        "exchange-outage": "harness action tradai:exchange:outage"}


# -- a broken template stops the program ------------------------------------------------------


def deploy_fails(topo: Topology, settings: Any, error: type[Exception], message: str) -> None:
    from tradai_infra.program import deploy

    declared: list[str] = []
    original = pulumi.Resource.__init__

    def recording_init(self: pulumi.Resource, t: str, name: str, *args: Any, **kw: Any) -> None:
        if t != "pulumi:pulumi:Stack":  # the runtime's root resource, not the program's
            declared.append(f"{t} {name}")
        original(self, t, name, *args, **kw)

    mocks = RecordingMocks()
    with patch.object(pulumi.Resource, "__init__", recording_init), \
            pytest.raises(error, match=message):
        run_program(lambda: deploy(settings, topo), mocks)
    assert declared == [] and mocks.resources == [], "resources were declared before the error"


def write_broken(tmp_path: Path, source: str, change: Callable[[dict], None]) -> Path:
    body = json.loads((FAULTS / f"{source}.json").read_text())
    change(body)
    fault_dir(tmp_path, "service-task-stop")  # a good one beside it
    (tmp_path / "broken.json").write_text(json.dumps(body))
    return tmp_path


def _set(path: str, value: Any) -> Callable[[dict], None]:
    def change(body: dict) -> None:
        *parents, leaf = path.split("/")
        node = body
        for key in parents:
            node = node[key]
        node[leaf] = value

    return change


@pytest.mark.parametrize(("source", "change", "message"), [
    ("nat-instance-stop", _set("actions/StopNat/parameters/startInstancesAfterDuration",
                               "three minutes"),
     r"template 'broken' \(.*broken\.json\) is invalid: "
     r"actions\.StopNat\.parameters\.startInstancesAfterDuration: 'three minutes'"),
    ("nat-instance-stop", _set("targets/NatInstance/resourceTags/aws:autoscaling:groupName",
                               "${nat:asg}"),
     r"template 'broken': targets\.NatInstance\.resourceTags\.aws:autoscaling:groupName: "
     r"unknown placeholder \$\{nat:asg\}"),
    ("service-task-stop", _set("description", "x" * 600),
     r"template 'broken' .* cannot be deployed to AWS FIS: description: is 600 characters"),
    ("service-task-stop", _set("roleArn", "${role:backtest-consumer-fn}"),
     r"cannot be deployed to AWS FIS: roleArn: .* must be \$\{fis_role_arn\}"),
    ("nat-instance-termination", _set("targets/NatInstance/selectionMode", "SOME"),
     r"is invalid: targets\.NatInstance\.selectionMode"),
    ("exchange-outage", _set("actions/ExchangeDown/parameters/mode", "504"),
     r"template 'broken' .* is invalid: actions\.ExchangeDown\.parameters\.mode: '504'"),
])
def test_a_broken_template_stops_the_program_naming_the_field(
        topo: Topology, settings: Any, tmp_path: Path, source: str,
        change: Callable[[dict], None], message: str):
    broken = dataclasses.replace(settings, fault_templates_dir=str(
        write_broken(tmp_path, source, change)))
    deploy_fails(topo, broken, FaultTemplateError, message)


def test_a_missing_template_directory_names_the_setting(topo: Topology, settings: Any,
                                                        tmp_path: Path):
    missing = dataclasses.replace(settings, fault_templates_dir=str(tmp_path / "nowhere"))
    deploy_fails(topo, missing, InfraConfigError, r"tradai:faultTemplatesDir: no fault templates")
