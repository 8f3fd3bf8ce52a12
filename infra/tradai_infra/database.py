"""RDS PostgreSQL behind MLflow, in the database subnets, private and encrypted."""

from __future__ import annotations

import pulumi_aws as aws

from tradai_infra.context import Context
from tradai_infra.network import DATABASE, Network
from tradai_infra.secret_values import DATABASE_USER
from tradai_infra.storage import Storage

MASTER_USERNAME = DATABASE_USER


def build_database(ctx: Context, net: Network, storage: Storage) -> aws.rds.Instance:
    spec = ctx.topo.database
    subnet_group = aws.rds.SubnetGroup(
        ctx.name("db-subnets"),
        name=ctx.name("db-subnets"),
        subnet_ids=[s.id for s in net.database_subnets],
        tags=ctx.tags,
    )
    prod = ctx.settings.is_production
    name = ctx.name(spec.name)
    return aws.rds.Instance(
        name,
        identifier=name,
        engine=spec.engine,
        engine_version=spec.engine_version,
        instance_class=spec.instance_class,
        allocated_storage=spec.allocated_storage,
        storage_type="gp3",
        db_name=spec.name,
        username=MASTER_USERNAME,
        # The master password is the generated one of the spec's database secret
        # (secret_values.py; secret in the state), not an RDS-managed one: RDS rotates its
        # managed secret every seven days by default (https://docs.aws.amazon.com/AmazonRDS/
        # latest/UserGuide/rds-secrets-manager.html), and ECS hands a secret to a container
        # only when it starts, never again after a rotation (https://docs.aws.amazon.com/
        # AmazonECS/latest/developerguide/secrets-envvar-secrets-manager.html), so MLflow's
        # new connections would fail a week after each start. This password changes only when
        # the operator replaces it (infra/README.md), with a new MLflow deployment after it.
        password=storage.secret_values.database_password,
        db_subnet_group_name=subnet_group.name,
        vpc_security_group_ids=[net.groups[DATABASE].id],
        publicly_accessible=False,
        storage_encrypted=True,
        multi_az=False,  # single instance; read replica is "future" in section 6
        backup_retention_period=7,
        deletion_protection=prod,
        skip_final_snapshot=not prod,
        final_snapshot_identifier=f"{name}-final" if prod else None,
        tags=ctx.tags,
    )
