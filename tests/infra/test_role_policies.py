"""The deployed roles hold the one builder's policies: under Pulumi's mocks, each function's,
service's and task's role has one inline policy, ``tradai-access``, equal to what
``tradai.topology.iam_policy`` builds from the spec's access with this stack's ARNs.

The ARNs are derived here from the recorded resources (the mocks' ``arn:aws:mock:<type>/<name>``)
and the account, not taken from the program, so a program that fed the builder a wrong ARN,
or built a policy of its own, fails. The local side of the claim is
``tests/unit/test_local_role_policies.py``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import fields
from typing import Any

import pytest
import requests

from tests.infra.conftest import Deployed
from tests.infra.mocks import ACCOUNT
from tradai.topology import default_topology
from tradai.topology.iam_policy import POLICY_NAME, ResourceArns, role_policy

REGION = "eu-central-1"
ROLE = "aws:iam/role:Role"
ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"


def _arns(d: Deployed) -> ResourceArns:
    topo = d.topo

    def resource(typ: str, logical: str) -> str:
        return d.one(typ, d.name(logical)).arn

    def arn(service: str, rest: str) -> str:
        return f"arn:aws:{service}:{REGION}:{ACCOUNT}:{rest}"

    def role(name: str) -> str:
        return f"arn:aws:iam::{ACCOUNT}:role/{d.name(name)}"

    cluster = d.name(topo.cluster)
    execution = role("ecs-execution")
    return ResourceArns(
        tables={t.name: resource("aws:dynamodb/table:Table", t.name) for t in topo.tables},
        queues={q.name: resource("aws:sqs/queue:Queue", q.name) for q in topo.queues},
        buckets={b.name: resource("aws:s3/bucket:Bucket", b.name) for b in topo.buckets},
        topics={t.name: resource("aws:sns/topic:Topic", t.name) for t in topo.topics},
        secrets={s.name: resource("aws:secretsmanager/secret:Secret", s.name)
                 for s in topo.secrets},
        state_machines={m.name: arn("states", f"stateMachine:{d.name(m.name)}")
                        for m in topo.state_machines},
        lambdas={f.name: arn("lambda", f"function:{d.name(f.name)}") for f in topo.lambdas},
        log_groups={f.name: resource("aws:cloudwatch/logGroup:LogGroup", f"{f.name}-logs")
                    for f in d.lambdas},
        task_families={t.name: arn("ecs", f"task-definition/{d.name(t.name)}:*")
                       for t in topo.task_definitions},
        cluster=arn("ecs", f"cluster/{cluster}"),
        cluster_tasks=arn("ecs", f"task/{cluster}/*"),
        cluster_services=arn("ecs", f"service/{cluster}/*"),
        task_roles=(*(role(f"{t.name}-task") for t in topo.task_definitions), execution),
        session_services=arn("ecs", f"service/{cluster}/{d.name('session-')}*"),
        session_roles=(role("strategy-task"), execution),
        nat_group=arn("autoscaling",
                      f"autoScalingGroup:*:autoScalingGroupName/{d.name('nat-asg')}"),
        route_tables=tuple(arn("ec2", f"route-table/{d.name(f'private-rt-{az.name}')}-id")
                           for az in topo.network.azs),
        instances=arn("ec2", "instance/*"),
        nat_name=d.name("nat-asg"),
    )


def _policies_of(d: Deployed, role_name: str) -> dict[str, dict]:
    [role] = d.where(ROLE, name=role_name)
    return {r.inputs.get("name"): doc for r, doc in d.policies() if r.inputs["role"] == role.id}


def test_every_deployed_role_holds_the_builders_policy(deployed: Deployed):
    topo = deployed.topo
    arns = _arns(deployed)
    components = [*((f.name, "fn") for f in deployed.lambdas),
                  *((c.name, "task") for c in (*topo.services, *topo.task_definitions))]
    assert len(components) == len(deployed.lambdas) + 6
    for component, kind in components:
        assert _policies_of(deployed, deployed.name(f"{component}-{kind}")) == {
            POLICY_NAME: role_policy(topo, component, arns)}, component


def test_the_nat_names_match_the_program(deployed: Deployed):
    """The names _arns assumes for the NAT group and the private route tables are the
    program's (else the test above would compare against ARNs nothing deploys)."""
    [group] = deployed.of_type("aws:autoscaling/group:Group")
    assert group.inputs["name"] == deployed.name("nat-asg")
    assert {r.name for r in deployed.of_type("aws:ec2/routeTable:RouteTable")} >= {
        deployed.name(f"private-rt-{az.name}") for az in deployed.topo.network.azs}


def _symbolic(doc: dict, arns: ResourceArns) -> str:
    """The document with every ARN of ``arns`` replaced by its logical name, so documents
    of two deployments compare (derived ARNs keep their suffix: ``<tables:x>/index/*``)."""
    pairs: list[tuple[str, str]] = []
    for field in fields(ResourceArns):
        value = getattr(arns, field.name)
        if isinstance(value, Mapping):
            pairs += [(arn, f"<{field.name}:{name}>") for name, arn in value.items()]
        elif isinstance(value, tuple):
            pairs += [(arn, f"<{field.name}[{i}]>") for i, arn in enumerate(value)]
        else:
            pairs.append((value, f"<{field.name}>"))
    # An execution's ARN is its state machine's with :execution: (iam_policy._executions).
    pairs += [(arn.replace(":stateMachine:", ":execution:"), f"<executions:{name}>")
              for name, arn in arns.state_machines.items()]
    text = json.dumps(doc, sort_keys=True)
    for arn, symbol in sorted(pairs, key=lambda p: -len(p[0])):
        text = text.replace(arn, symbol)
    return text


@pytest.fixture(scope="module")
def local_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """The local bootstrap's every step against moto's server, in process."""
    from moto.server import ThreadedMotoServer

    from tradai.clock import Clock
    from tradai_sim.cloud.bootstrap.resources import Bootstrap
    from tradai_sim.cloud.context import CloudContext

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        # moto's state is per process, shared by every in-process server: start empty.
        requests.post(f"http://{host}:{port}/moto-api/reset", timeout=30).raise_for_status()
        ctx = CloudContext(endpoint=f"http://{host}:{port}", region=REGION, env="local",
                           clock=Clock(), state_dir=tmp_path_factory.mktemp("local"),
                           topology=default_topology())
        boot = Bootstrap(ctx)
        boot.run()
        yield boot
    finally:
        requests.post(f"http://{host}:{port}/moto-api/reset", timeout=30)
        server.stop()


def test_local_and_deployed_policies_are_the_same_modulo_arns(deployed: Deployed,
                                                              local_stack: Any):
    """Issue 16 item 2: the role policies the local cloud enforces are those `pulumi up`
    deploys: per component, equal once each side's ARNs are replaced by logical names."""
    from tradai_sim.cloud.bootstrap.policies import local_arns

    iam = local_stack.ctx.client("iam")
    local = local_arns(local_stack.ctx)
    aws = _arns(deployed)
    functions = {f.name for f in deployed.topo.lambdas}
    roles = local_stack.ctx.resources["role_policies"]
    # Both sides leave out the functions without handler code, and only those.
    assert {c for c in roles if c in functions} == {f.name for f in deployed.lambdas}
    for component, role in roles.items():
        kind = "fn" if component in functions else "task"
        [deployed_doc] = _policies_of(deployed, deployed.name(f"{component}-{kind}")).values()
        local_doc = iam.get_role_policy(RoleName=role, PolicyName=POLICY_NAME)["PolicyDocument"]
        symbolic = _symbolic(local_doc, local)
        assert symbolic == _symbolic(deployed_doc, aws), component
        assert "arn:aws" not in symbolic, component  # every ARN has its logical name
    assert len(roles) == len(deployed.lambdas) + 6  # and 4 services, 2 task definitions
