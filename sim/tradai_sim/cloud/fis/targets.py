"""Target resolution as FIS does it at the start of an experiment: the resources of the
target's type, narrowed by ``resourceArns`` or ``resourceTags``, by the type's ``parameters``
(ECS tasks: cluster, service) and by ``filters`` (paths into the resource's describe output,
e.g. ``State.Name`` or ``Placement.AvailabilityZone``), then ``selectionMode`` picks from them
with the experiment's seeded random generator.
https://docs.aws.amazon.com/fis/latest/userguide/targets.html
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import ClientError

from tradai.faults.selection import parse_selection_mode
from tradai_sim.cloud.context import CloudContext


@dataclass(frozen=True)
class Resource:
    arn: str
    resource_type: str
    id: str
    tags: Mapping[str, str] = field(default_factory=dict)
    detail: Mapping[str, Any] = field(default_factory=dict, compare=False)


class ResolutionError(RuntimeError):
    pass


# Every resource of one type (the whole target is passed: some listers use its ARNs or
# parameters to ask for less).
Lister = Callable[[Mapping[str, Any]], list[Resource]]


class TargetResolver:
    def __init__(self, ctx: CloudContext) -> None:
        self.ctx = ctx
        self.listers: dict[str, Lister] = {
            "aws:ec2:instance": self._instances, "aws:ec2:subnet": self._subnets,
            "aws:ec2:autoscaling-group": self._groups, "aws:ecs:task": self._tasks,
            "aws:iam:role": self._roles, "tradai:sqs:queue": self._queues,
        }

    def resolve(self, name: str, target: Mapping[str, Any], rng: random.Random) -> list[Resource]:
        rtype = target["resourceType"]
        try:
            candidates = self.listers[rtype](target)
        except ClientError as exc:
            raise ResolutionError(f"target {name!r}: listing {rtype} failed: {exc}") from exc
        return select(candidates, target, rng)

    # -- listers: every resource of the type, with its describe output ----------------------
    def _arn(self, service: str, resource: str) -> str:
        return f"arn:aws:{service}:{self.ctx.region}:{self.ctx.account_id}:{resource}"

    def _instances(self, target: Mapping[str, Any]) -> list[Resource]:
        pages = self.ctx.client("ec2").get_paginator("describe_instances").paginate()
        return [Resource(self._arn("ec2", f"instance/{i['InstanceId']}"), "aws:ec2:instance",
                         i["InstanceId"], _tag_map(i.get("Tags")), i)
                for page in pages for r in page["Reservations"] for i in r["Instances"]]

    def _subnets(self, target: Mapping[str, Any]) -> list[Resource]:
        subnets = self.ctx.client("ec2").describe_subnets()["Subnets"]
        return [Resource(s.get("SubnetArn") or self._arn("ec2", f"subnet/{s['SubnetId']}"),
                         "aws:ec2:subnet", s["SubnetId"], _tag_map(s.get("Tags")), s)
                for s in subnets]

    def _groups(self, target: Mapping[str, Any]) -> list[Resource]:
        pages = self.ctx.client("autoscaling").get_paginator(
            "describe_auto_scaling_groups").paginate()
        return [Resource(g["AutoScalingGroupARN"], "aws:ec2:autoscaling-group",
                         g["AutoScalingGroupName"], _tag_map(g.get("Tags")), g)
                for page in pages for g in page["AutoScalingGroups"]]

    def _tasks(self, target: Mapping[str, Any]) -> list[Resource]:
        ecs = self.ctx.client("ecs")
        params = target.get("parameters") or {}
        clusters = [params["cluster"]] if "cluster" in params else ecs.list_clusters()[
            "clusterArns"]
        found = []
        for cluster in clusters:
            kwargs = {"cluster": cluster, "desiredStatus": "RUNNING"}
            if "service" in params:
                kwargs["serviceName"] = params["service"]
            arns = ecs.list_tasks(**kwargs)["taskArns"]
            for i in range(0, len(arns), 100):
                tasks = ecs.describe_tasks(cluster=cluster, tasks=arns[i:i + 100],
                                           include=["TAGS"])["tasks"]
                found += [Resource(t["taskArn"], "aws:ecs:task", t["taskArn"].rsplit("/", 1)[-1],
                                   _tag_map(t.get("tags"), "key", "value"), t)
                          for t in tasks if t.get("lastStatus") != "STOPPED"
                          and ("service" not in params or _in_service(t, params["service"]))]
        return found

    def _roles(self, target: Mapping[str, Any]) -> list[Resource]:
        iam = self.ctx.client("iam")
        if arns := target.get("resourceArns"):
            roles = []
            for arn in arns:
                try:
                    roles.append(iam.get_role(RoleName=arn.rsplit("/", 1)[-1])["Role"])
                except iam.exceptions.NoSuchEntityException:
                    continue  # resolves to nothing, as a deleted role would
        else:
            roles = [r for page in iam.get_paginator("list_roles").paginate()
                     for r in page["Roles"]]
        with_tags = bool(target.get("resourceTags"))
        return [Resource(r["Arn"], "aws:iam:role", r["RoleName"], _tag_map(
            iam.list_role_tags(RoleName=r["RoleName"]).get("Tags") if with_tags else []), r)
            for r in roles]

    def _queues(self, target: Mapping[str, Any]) -> list[Resource]:
        sqs = self.ctx.client("sqs")
        if arns := target.get("resourceArns"):
            urls = []
            for arn in arns:
                try:
                    urls.append(sqs.get_queue_url(QueueName=arn.rsplit(":", 1)[-1])["QueueUrl"])
                except ClientError:
                    continue
        else:
            urls = sqs.list_queues().get("QueueUrls", [])
        with_tags = bool(target.get("resourceTags"))
        out = []
        for url in urls:
            name = url.rsplit("/", 1)[-1]
            tags = sqs.list_queue_tags(QueueUrl=url).get("Tags", {}) if with_tags else {}
            out.append(Resource(self._arn("sqs", name), "tradai:sqs:queue", name, tags,
                                {"QueueName": name, "QueueUrl": url}))
        return out


def select(candidates: Iterable[Resource], target: Mapping[str, Any],
           rng: random.Random) -> list[Resource]:
    """Narrow ``candidates`` as the target says, then apply its selection mode."""
    rtype = target["resourceType"]
    found = list(candidates)
    if arns := target.get("resourceArns"):
        wanted = set(arns)
        found = [r for r in found if r.arn in wanted]
    if tags := target.get("resourceTags"):
        found = [r for r in found if all(r.tags.get(k) == v for k, v in tags.items())]
    for flt in target.get("filters") or []:
        values = set(flt["values"])
        found = [r for r in found
                 if values & set(path_values(r.detail, flt["path"], camel=rtype == "aws:ecs:task"))]
    found.sort(key=lambda r: r.arn)  # a stable order, so the seeded choice is reproducible
    return parse_selection_mode(target.get("selectionMode", "ALL")).pick(found, rng)


def path_values(detail: Mapping[str, Any], path: str, camel: bool = False) -> list[str]:
    """Every string at ``path`` (``Placement.AvailabilityZone``); lists fan out. ECS answers
    in camelCase, so FIS's ``AvailabilityZone`` there reads ``availabilityZone``."""
    nodes: list[Any] = [detail]
    for segment in path.split("."):
        key = segment[:1].lower() + segment[1:] if camel else segment
        nxt: list[Any] = []
        for node in nodes:
            items = node if isinstance(node, list) else [node]
            nxt += [item[key] for item in items if isinstance(item, Mapping) and key in item]
        nodes = nxt
    flat: list[str] = []
    for node in nodes:
        flat += [str(v) for v in (node if isinstance(node, list) else [node])]
    return flat


def _in_service(task: Mapping[str, Any], service: str) -> bool:
    """ECS names a service's tasks' group ``service:NAME`` (moto's ListTasks ignores
    ``serviceName``, so the group decides)."""
    return task.get("group") == f"service:{service.rsplit('/', 1)[-1]}"


def _tag_map(tags: Iterable[Mapping[str, str]] | None, key: str = "Key",
             value: str = "Value") -> dict[str, str]:
    return {t[key]: t[value] for t in tags or [] if key in t}
