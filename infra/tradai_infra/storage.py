"""S3 buckets, DynamoDB tables and Secrets Manager secrets (with their values, see
``secret_values.py``), one per spec entry.

Bucket names are global across all AWS accounts, so a bucket's physical name is the spec
name's (``tradai-<env>-<name>``) followed by the account and the region: a second account or
region deploying the same stack does not collide. The code never derives a bucket name: every
process is told it (``TRADAI_BUCKET_<NAME>``, from ``Storage.bucket_names``)."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from tradai.topology import Topology
from tradai.topology.model import Table
from tradai_infra.context import Context
from tradai_infra.errors import InfraConfigError
from tradai_infra.secret_values import SecretValues, build_secret_values

MAX_BUCKET_NAME = 63  # S3's limit
ACCOUNT_ID_LENGTH = 12


@dataclass(frozen=True)
class Storage:
    buckets: dict[str, aws.s3.Bucket]
    tables: dict[str, aws.dynamodb.Table]
    secrets: dict[str, aws.secretsmanager.Secret]
    secret_values: SecretValues
    bucket_names: dict[str, pulumi.Output[str]]  # logical -> physical, for configuration


def bucket_name(ctx: Context, logical: str) -> pulumi.Output[str]:
    """``tradai-<env>-<logical>-<account>-<region>``: unique per account and region."""
    return ctx.account_id.apply(lambda acct: f"{ctx.name(logical)}-{acct}-{ctx.region}")


def check_bucket_names(topo: Topology, env: str, region: str, extra: tuple[str, ...]) -> None:
    """Before any resource: every bucket name fits S3's 63 characters with the suffix."""
    from tradai.topology.naming import physical_name

    for logical in [b.name for b in topo.buckets] + list(extra):
        length = len(physical_name(topo.project, env, logical)) + ACCOUNT_ID_LENGTH + len(
            region) + 2
        if length > MAX_BUCKET_NAME:
            raise InfraConfigError(
                f"bucket {logical!r}: its name in {env}/{region} would be {length} characters "
                f"(S3 allows {MAX_BUCKET_NAME}); shorten the bucket or environment name")


def private_bucket(resource_name: str, bucket_name: pulumi.Input[str],
                   ctx: Context) -> aws.s3.Bucket:
    """A bucket that is encrypted, versioned, owner-enforced and can never be made public."""
    bucket = aws.s3.Bucket(
        resource_name,
        bucket=bucket_name,
        force_destroy=not ctx.settings.is_production,
        tags=ctx.tags,
    )
    child = pulumi.ResourceOptions(parent=bucket)
    aws.s3.BucketPublicAccessBlock(
        f"{resource_name}-public-access",
        bucket=bucket.id,
        block_public_acls=True,
        block_public_policy=True,
        ignore_public_acls=True,
        restrict_public_buckets=True,
        opts=child,
    )
    aws.s3.BucketOwnershipControls(
        f"{resource_name}-ownership",
        bucket=bucket.id,
        rule={"object_ownership": "BucketOwnerEnforced"},
        opts=child,
    )
    aws.s3.BucketServerSideEncryptionConfiguration(
        f"{resource_name}-sse",
        bucket=bucket.id,
        rules=[
            {
                "apply_server_side_encryption_by_default": {"sse_algorithm": "aws:kms"},
                "bucket_key_enabled": True,
            }
        ],
        opts=child,
    )
    aws.s3.BucketVersioning(
        f"{resource_name}-versioning",
        bucket=bucket.id,
        versioning_configuration={"status": "Enabled"},
        opts=child,
    )
    return bucket


def _table(ctx: Context, spec: Table) -> aws.dynamodb.Table:
    # DynamoDB wants exactly the attributes used as keys; every key here is a string.
    key_names = [spec.hash_key, spec.range_key]
    for index in spec.indexes:
        key_names += [index.hash_key, index.range_key]
    attributes = [{"name": n, "type": "S"} for n in dict.fromkeys(k for k in key_names if k)]
    name = ctx.name(spec.name)
    return aws.dynamodb.Table(
        name,
        name=name,
        billing_mode="PAY_PER_REQUEST",
        hash_key=spec.hash_key,
        range_key=spec.range_key,
        attributes=attributes,
        global_secondary_indexes=[
            {
                "name": i.name,
                "hash_key": i.hash_key,
                "range_key": i.range_key,
                "projection_type": "ALL",
            }
            for i in spec.indexes
        ],
        ttl=(
            {"attribute_name": spec.ttl_attribute, "enabled": True}
            if spec.ttl_attribute
            else None
        ),
        point_in_time_recovery={"enabled": True},
        # Customer-visible KMS encryption (aws/dynamodb key) rather than the opaque default.
        server_side_encryption={"enabled": True},
        deletion_protection_enabled=ctx.settings.is_production,
        tags=ctx.tags,
    )


def build_storage(ctx: Context) -> Storage:
    names = {b.name: bucket_name(ctx, b.name) for b in ctx.topo.buckets}
    buckets = {b.name: private_bucket(ctx.name(b.name), names[b.name], ctx)
               for b in ctx.topo.buckets}
    tables = {t.name: _table(ctx, t) for t in ctx.topo.tables}
    secrets = {
        s.name: aws.secretsmanager.Secret(
            ctx.name(s.name),
            name=ctx.name(s.name),
            description=f"{s.description} (fields: {', '.join(s.fields)})",
            recovery_window_in_days=30 if ctx.settings.is_production else 7,
            tags=ctx.tags,
        )
        for s in ctx.topo.secrets
    }
    return Storage(buckets=buckets, tables=tables, secrets=secrets,
                   secret_values=build_secret_values(ctx, secrets), bucket_names=names)
