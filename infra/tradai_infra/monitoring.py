"""SNS topics, the spec's CloudWatch alarms, and the CloudTrail audit trail with its bucket."""

from __future__ import annotations

import json

import pulumi
import pulumi_aws as aws

from tradai.topology.model import Alarm
from tradai_infra.compute import Compute
from tradai_infra.context import Context
from tradai_infra.storage import private_bucket

# Alarms watch one queue (QueueName) or one load-balanced service's target group
# (TargetGroup and LoadBalancer, by ARN suffix).
SUPPORTED_ALARM_NAMESPACES = ("AWS/SQS", "AWS/ApplicationELB")


def build_topics(ctx: Context) -> dict[str, aws.sns.Topic]:
    topics = {
        t.name: aws.sns.Topic(
            ctx.name(t.name),
            name=ctx.name(t.name),
            kms_master_key_id="alias/aws/sns",  # encryption at rest
            tags=ctx.tags,
        )
        for t in ctx.topo.topics
    }
    if ctx.settings.alert_email and "alerts" in topics:
        aws.sns.TopicSubscription(
            ctx.name("alerts-email"),
            topic=topics["alerts"].arn,
            protocol="email",
            endpoint=ctx.settings.alert_email,
        )
    return topics


def build_alarms(
    ctx: Context, queues: dict[str, aws.sqs.Queue], topics: dict[str, aws.sns.Topic],
    compute: Compute,
) -> dict[str, aws.cloudwatch.MetricAlarm]:
    """The spec's alarms, as the local bootstrap creates them: ALARM and OK go to the topic."""
    return {
        a.name: aws.cloudwatch.MetricAlarm(
            ctx.name(a.name),
            name=ctx.name(a.name),
            namespace=a.namespace,
            metric_name=a.metric,
            dimensions=_alarm_dimensions(a, queues, compute),
            **({"extended_statistic": a.statistic} if a.is_percentile
               else {"statistic": a.statistic}),
            period=a.period,
            evaluation_periods=a.evaluation_periods,
            datapoints_to_alarm=a.points_to_alarm,
            threshold=a.threshold,
            comparison_operator=a.comparison,
            treat_missing_data=a.treat_missing_data,
            alarm_actions=[topics[a.topic].arn],
            ok_actions=[topics[a.topic].arn],
            tags=ctx.tags,
        )
        for a in ctx.topo.alarms
    }


def _alarm_dimensions(a: Alarm, queues: dict[str, aws.sqs.Queue],
                      compute: Compute) -> dict[str, pulumi.Input[str]]:
    if a.queue is not None:
        return {"QueueName": queues[a.queue].name}
    assert a.target_group is not None  # the spec loader requires a queue or a target group
    return {"TargetGroup": compute.target_groups[a.target_group].arn_suffix,
            "LoadBalancer": compute.load_balancer.arn_suffix}


def build_trail(ctx: Context) -> aws.cloudtrail.Trail:
    bucket_name = ctx.name("cloudtrail")
    bucket = private_bucket(bucket_name, bucket_name, ctx)
    trail_name = ctx.name("trail")
    trail_arn = ctx.arn("cloudtrail", f"trail/{trail_name}")
    policy = aws.s3.BucketPolicy(
        f"{bucket_name}-policy",
        bucket=bucket.id,
        policy=pulumi.Output.all(bucket.arn, ctx.account_id, trail_arn).apply(
            lambda v: json.dumps(_trail_bucket_policy(v[0], v[1], v[2]))
        ),
        opts=pulumi.ResourceOptions(parent=bucket),
    )
    return aws.cloudtrail.Trail(
        trail_name,
        name=trail_name,
        s3_bucket_name=bucket.id,
        include_global_service_events=True,
        is_multi_region_trail=False,  # the architecture's single trail (section 2)
        enable_log_file_validation=True,
        tags=ctx.tags,
        opts=pulumi.ResourceOptions(depends_on=[policy]),
    )


def _trail_bucket_policy(bucket_arn: str, account: str, trail_arn: str) -> dict:
    only_this_trail = {"StringEquals": {"aws:SourceArn": trail_arn}}
    principal = {"Service": "cloudtrail.amazonaws.com"}
    return {
        "Version": "2012-10-17",
        "Statement": [
            {"Sid": "AclCheck", "Effect": "Allow", "Principal": principal,
             "Action": "s3:GetBucketAcl", "Resource": bucket_arn, "Condition": only_this_trail},
            {"Sid": "Write", "Effect": "Allow", "Principal": principal, "Action": "s3:PutObject",
             "Resource": f"{bucket_arn}/AWSLogs/{account}/*",
             "Condition": {"StringEquals": {"s3:x-amz-acl": "bucket-owner-full-control",
                                            **only_this_trail["StringEquals"]}}},
        ],
    }
