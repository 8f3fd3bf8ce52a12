"""The NAT instance in an Auto Scaling group, with its lifecycle hook wired to a Lambda.

When the group launches a replacement, the hook holds it in Pending:Wait and EventBridge
invokes the spec's target Lambda (update-nat-routes), which points the private route tables
at the new instance and completes the lifecycle action.
"""

from __future__ import annotations

import base64
import json

import pulumi
import pulumi_aws as aws

from tradai_infra.context import Context
from tradai_infra.network import NAT, Network

# Latest Amazon Linux 2023 for Graviton (t4g), resolved by EC2 at launch time.
NAT_AMI = "resolve:ssm:/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-arm64"

_EVENT_DETAIL_TYPES = {
    "autoscaling:EC2_INSTANCE_LAUNCHING": "EC2 Instance-launch Lifecycle Action",
    "autoscaling:EC2_INSTANCE_TERMINATING": "EC2 Instance-terminate Lifecycle Action",
}


def nat_group_name(ctx: Context) -> str:
    """The group's AWS name, as the local cloud names it: the fault templates select the NAT
    instance by the ``aws:autoscaling:groupName`` tag AWS sets to it."""
    return ctx.name("nat-asg")


def _user_data(vpc_cidr: str) -> str:
    script = f"""#!/bin/bash
set -euo pipefail
dnf install -y iptables-services
echo 'net.ipv4.ip_forward = 1' > /etc/sysctl.d/90-nat.conf
sysctl --system
IFACE=$(ip route | awk '/^default/ {{print $5; exit}}')
iptables -t nat -A POSTROUTING -o "$IFACE" -s {vpc_cidr} -j MASQUERADE
iptables -F FORWARD
service iptables save
systemctl enable --now iptables
"""
    return base64.b64encode(script.encode()).decode()


def build_nat(
    ctx: Context, net: Network, hook_target: aws.lambda_.Function
) -> aws.autoscaling.Group:
    spec = ctx.topo.network.nat
    hook = spec.lifecycle_hook
    group_name = nat_group_name(ctx)

    template = aws.ec2.LaunchTemplate(
        ctx.name("nat-template"),
        image_id=NAT_AMI,
        instance_type=spec.instance_type,
        network_interfaces=[
            {"associate_public_ip_address": True, "security_groups": [net.groups[NAT].id]}
        ],
        metadata_options={"http_tokens": "required"},
        user_data=_user_data(ctx.topo.network.vpc_cidr),
        tags=ctx.tags,
    )

    rule = aws.cloudwatch.EventRule(
        ctx.name(f"{hook.name}-hook"),
        name=ctx.name(f"{hook.name}-hook"),
        description=f"{hook.transition} on {group_name} -> {hook.target_lambda}",
        event_pattern=json.dumps(
            {
                "source": ["aws.autoscaling"],
                "detail-type": [_EVENT_DETAIL_TYPES[hook.transition]],
                "detail": {"AutoScalingGroupName": [group_name], "LifecycleHookName": [hook.name]},
            }
        ),
        tags=ctx.tags,
    )
    target = aws.cloudwatch.EventTarget(
        ctx.name(f"{hook.name}-hook-target"), rule=rule.name, arn=hook_target.arn
    )
    permission = aws.lambda_.Permission(
        ctx.name(f"{hook.name}-hook-invoke"),
        action="lambda:InvokeFunction",
        function=hook_target.name,
        principal="events.amazonaws.com",
        source_arn=rule.arn,
    )

    # The hook is declared with the group so that the very first instance already waits for
    # the route update; the rule and permission must exist before that first launch.
    return aws.autoscaling.Group(
        ctx.name("nat"),  # the Pulumi resource name, unchanged; AWS's name is name=
        name=group_name,
        min_size=spec.asg_min,
        max_size=spec.asg_max,
        desired_capacity=spec.asg_min,
        vpc_zone_identifiers=[s.id for s in net.public_subnets],
        launch_template={"id": template.id, "version": "$Latest"},
        health_check_type="EC2",
        initial_lifecycle_hooks=[
            {
                "name": hook.name,
                "lifecycle_transition": hook.transition,
                "heartbeat_timeout": hook.heartbeat_timeout,
                "default_result": hook.default_result,
            }
        ],
        tags=[
            {"key": "Name", "value": group_name, "propagate_at_launch": True},
            *({"key": k, "value": v, "propagate_at_launch": True} for k, v in ctx.tags.items()),
        ],
        opts=pulumi.ResourceOptions(depends_on=[target, permission]),
    )
