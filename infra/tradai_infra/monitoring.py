"""SNS topics, the spec's CloudWatch alarms, and the CloudTrail audit trail with its bucket."""

from __future__ import annotations

import json

import pulumi
import pulumi_aws as aws

from tradai.topology.model import Alarm
from tradai_infra.compute import Compute
from tradai_infra.context import Context
from tradai_infra.storage import bucket_name, private_bucket

# Alarms watch one queue (QueueName) or one load-balanced service's target group
# (TargetGroup and LoadBalancer, by ARN suffix).
SUPPORTED_ALARM_NAMESPACES = ("AWS/SQS", "AWS/ApplicationELB")


# What CloudWatch needs on the key of an encrypted topic it publishes alarms to.
CLOUDWATCH_KEY_ACTIONS = ("kms:GenerateDataKey*", "kms:Decrypt")


def topics_key_policy(account: str, region: str) -> dict:
    """The topics' key: the account administers it through IAM; CloudWatch alarms may use it
    (they cannot publish to a topic under the AWS managed key ``alias/aws/sns``, whose policy
    no one can change: https://docs.aws.amazon.com/sns/latest/dg/sns-key-management.html
    #compatibility-with-aws-services); this account's principals may use it only through SNS
    (``kms:ViaService``), as with the AWS managed key, so ``sns:Publish`` in a role's policy
    stays the one gate for the functions that publish."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            {"Sid": "AccountAdministers", "Effect": "Allow",
             "Principal": {"AWS": f"arn:aws:iam::{account}:root"}, "Action": "kms:*",
             "Resource": "*"},
            {"Sid": "CloudWatchAlarmsPublish", "Effect": "Allow",
             "Principal": {"Service": "cloudwatch.amazonaws.com"},
             "Action": list(CLOUDWATCH_KEY_ACTIONS), "Resource": "*"},
            {"Sid": "PublishersThroughSns", "Effect": "Allow", "Principal": {"AWS": "*"},
             "Action": list(CLOUDWATCH_KEY_ACTIONS), "Resource": "*",
             "Condition": {"StringEquals": {"kms:CallerAccount": account,
                                            "kms:ViaService": f"sns.{region}.amazonaws.com"}}},
        ],
    }


def build_topics(ctx: Context) -> dict[str, aws.sns.Topic]:
    key = aws.kms.Key(
        ctx.name("sns-key"),
        description=f"TradAI {ctx.env}: SNS topics (CloudWatch alarms publish with it)",
        enable_key_rotation=True,
        deletion_window_in_days=30 if ctx.settings.is_production else 7,
        policy=ctx.account_id.apply(lambda a: json.dumps(topics_key_policy(a, ctx.region))),
        tags=ctx.tags,
    )
    aws.kms.Alias(ctx.name("sns-key-alias"), name=f"alias/{ctx.name('sns')}",
                  target_key_id=key.key_id, opts=pulumi.ResourceOptions(parent=key))
    topics = {
        t.name: aws.sns.Topic(
            ctx.name(t.name),
            name=ctx.name(t.name),
            kms_master_key_id=key.arn,  # encryption at rest, a key CloudWatch may use
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
    resource = ctx.name("cloudtrail")
    bucket = private_bucket(resource, bucket_name(ctx, "cloudtrail"), ctx)
    trail_name = ctx.name("trail")
    trail_arn = ctx.arn("cloudtrail", f"trail/{trail_name}")
    policy = aws.s3.BucketPolicy(
        f"{resource}-policy",
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
