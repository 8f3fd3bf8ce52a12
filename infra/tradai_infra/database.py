"""RDS PostgreSQL behind MLflow, in the database subnets, private and encrypted."""

from __future__ import annotations

import pulumi_aws as aws

from tradai_infra.context import Context
from tradai_infra.network import DATABASE, Network

MASTER_USERNAME = "mlflow"


def build_database(ctx: Context, net: Network) -> aws.rds.Instance:
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
        # RDS generates the password and keeps it in its own Secrets Manager secret, so it is
        # never in Pulumi state; the MLflow task reads it from there.
        manage_master_user_password=True,
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
