"""Create the spec's resources in the emulator. Each step looks before it creates, so running
the bootstrap against a stack that has them changes nothing."""

from __future__ import annotations

import json
import logging
import secrets
import string
from collections.abc import Callable
from typing import Any

from botocore.exceptions import ClientError

from tradai.authz import REGISTRY_PROMOTE, Authorizer
from tradai.registry.credentials import (
    READER_USERNAME,
    RUNNER_SECRET,
    RUNNER_USERNAME,
    USERS_SECRET,
)
from tradai.topology import load_balancing as lb
from tradai.topology.ecs_secrets import container_secrets
from tradai.topology.model import Topology
from tradai.topology.runtime_config import RuntimeConfig, runtime_config
from tradai.workflows.render import load_asl, render_asl
from tradai_sim.cloud.bootstrap.deployment import local_deployment
from tradai_sim.cloud.bootstrap.handlers import (
    handler_exists,
    module_exists,
    platform_package_zip,
)
from tradai_sim.cloud.bootstrap.policies import attach_policies, injected_containers
from tradai_sim.cloud.context import CloudContext
from tradai_sim.cloud.time_model import time_model

log = logging.getLogger(__name__)

Progress = Callable[[str], None]
DEV_USER_PASSWORD_FILE = "dev-user.json"


class Bootstrap:
    def __init__(self, ctx: CloudContext, progress: Progress | None = None) -> None:
        self.ctx = ctx
        self.t: Topology = ctx.topology
        self.progress = progress or (lambda msg: None)
        self.created: dict[str, int] = {}
        self.not_implemented: dict[str, list[str]] = {"lambdas": [], "services": [],
                                                       "task_definitions": []}

    def _count(self, kind: str) -> None:
        self.created[kind] = self.created.get(kind, 0) + 1

    def run(self) -> dict[str, Any]:
        steps = [
            ("network", self.network), ("storage", self.storage), ("queues", self.queues),
            ("tables", self.tables), ("topics", self.topics), ("secrets", self.secrets),
            ("identity", self.identity), ("lambdas", self.lambdas), ("ecs", self.ecs),
            ("state machines", self.state_machines), ("schedules", self.schedules),
            ("nat", self.nat), ("alarms", self.alarms), ("role policies", self.policies),
        ]
        for label, step in steps:
            self.progress(f"creating {label}")
            step()
        self.ctx.resources["time_model"] = time_model()
        self.ctx.resources["not_implemented"] = self.not_implemented
        return self.ctx.resources

    # -- network ----------------------------------------------------------------------------
    def network(self) -> None:
        ec2 = self.ctx.client("ec2")
        n = self.t.network
        vpc_name = self.ctx.name("vpc")
        vpcs = ec2.describe_vpcs(Filters=[{"Name": "tag:Name", "Values": [vpc_name]}])["Vpcs"]
        if vpcs:
            vpc_id = vpcs[0]["VpcId"]
        else:
            vpc_id = ec2.create_vpc(CidrBlock=n.vpc_cidr, TagSpecifications=_tags(
                "vpc", vpc_name))["Vpc"]["VpcId"]
            # awsvpc tasks need DNS hostnames on the VPC
            ec2.modify_vpc_attribute(VpcId=vpc_id, EnableDnsHostnames={"Value": True})
            ec2.modify_vpc_attribute(VpcId=vpc_id, EnableDnsSupport={"Value": True})
            self._count("ec2:vpc")
        self.ctx.resources["vpc_id"] = vpc_id

        existing = {
            _tag(s, "Name"): s["SubnetId"]
            for s in ec2.describe_subnets(Filters=[{"Name": "vpc-id", "Values": [vpc_id]}])[
                "Subnets"]
        }
        subnets: dict[str, dict[str, str]] = {"public": {}, "private": {}, "database": {}}
        for az in n.azs:
            zone = f"{self.ctx.region}{az.name}"
            for tier in ("public", "private", "database"):
                name = self.ctx.name(f"{tier}-{az.name}")
                if name not in existing:
                    sid = ec2.create_subnet(VpcId=vpc_id, CidrBlock=getattr(az, tier),
                                            AvailabilityZone=zone,
                                            TagSpecifications=_tags("subnet", name))[
                        "Subnet"]["SubnetId"]
                    self._count("ec2:subnet")
                    existing[name] = sid
                subnets[tier][zone] = existing[name]
        self.ctx.resources["subnets"] = subnets

        igws = ec2.describe_internet_gateways(
            Filters=[{"Name": "attachment.vpc-id", "Values": [vpc_id]}])["InternetGateways"]
        if igws:
            igw_id = igws[0]["InternetGatewayId"]
        else:
            igw_id = ec2.create_internet_gateway(TagSpecifications=_tags(
                "internet-gateway", self.ctx.name("igw")))["InternetGateway"]["InternetGatewayId"]
            ec2.attach_internet_gateway(InternetGatewayId=igw_id, VpcId=vpc_id)
            self._count("ec2:internet-gateway")

        tables = {
            _tag(rt, "Name"): rt["RouteTableId"]
            for rt in ec2.describe_route_tables(
                Filters=[{"Name": "vpc-id", "Values": [vpc_id]}])["RouteTables"]
        }
        route_tables: dict[str, str] = {}
        for name, tier_subnets, via_igw in [
            (self.ctx.name("public-rt"), subnets["public"], True),
        ] + [
            (self.ctx.name(f"private-rt-{zone[-1]}"), {zone: sid}, False)
            for zone, sid in subnets["private"].items()
        ] + [(self.ctx.name("database-rt"), subnets["database"], False)]:
            if name not in tables:
                rt_id = ec2.create_route_table(VpcId=vpc_id, TagSpecifications=_tags(
                    "route-table", name))["RouteTable"]["RouteTableId"]
                for sid in tier_subnets.values():
                    ec2.associate_route_table(RouteTableId=rt_id, SubnetId=sid)
                if via_igw:
                    ec2.create_route(RouteTableId=rt_id, DestinationCidrBlock="0.0.0.0/0",
                                     GatewayId=igw_id)
                self._count("ec2:route-table")
                tables[name] = rt_id
            route_tables[name] = tables[name]
        self.ctx.resources["route_tables"] = route_tables

        groups = {
            g["GroupName"]: g["GroupId"]
            for g in ec2.describe_security_groups(
                Filters=[{"Name": "vpc-id", "Values": [vpc_id]}])["SecurityGroups"]
        }
        sg_ids = {}
        for role in ("alb", "services", "strategy-tasks", "lambdas", "nat", "database",
                     "endpoints"):
            name = self.ctx.name(f"{role}-sg")
            if name not in groups:
                groups[name] = ec2.create_security_group(
                    GroupName=name, Description=f"TradAI {role}", VpcId=vpc_id)["GroupId"]
                self._count("ec2:security-group")
            sg_ids[role] = groups[name]
        self.ctx.resources["security_groups"] = sg_ids
        self._endpoints(ec2, vpc_id)

    def _endpoints(self, ec2: Any, vpc_id: str) -> None:
        """The spec's VPC endpoints, in the emulator's EC2 state as the Pulumi program declares
        them: interface endpoints in every AZ's private subnet, with private DNS; gateway
        endpoints on the private route tables. The network decides AWS API reachability from
        this state, so deleting one here is what a drill breaks."""
        eps = self.t.network.endpoints
        existing = {e["ServiceName"]: e["VpcEndpointId"] for e in ec2.describe_vpc_endpoints(
            Filters=[{"Name": "vpc-id", "Values": [vpc_id]}])["VpcEndpoints"]
            if e["State"] == "available"}
        private_rts = [rt for name, rt in self.ctx.resources["route_tables"].items()
                       if "private-rt" in name]
        private = list(self.ctx.resources["subnets"]["private"].values())
        ids: dict[str, str] = {}
        for kind, names in (("Gateway", eps.gateway), ("Interface", eps.interface)):
            for service in names:
                full = f"com.amazonaws.{self.ctx.region}.{service}"
                if full not in existing:
                    args: dict[str, Any] = (
                        {"RouteTableIds": private_rts} if kind == "Gateway" else
                        {"SubnetIds": private, "PrivateDnsEnabled": True,
                         "SecurityGroupIds": [self.ctx.resources["security_groups"]["endpoints"]]})
                    existing[full] = ec2.create_vpc_endpoint(
                        VpcId=vpc_id, ServiceName=full, VpcEndpointType=kind,
                        TagSpecifications=_tags("vpc-endpoint", self.ctx.name(f"vpce-{service}")),
                        **args)["VpcEndpoint"]["VpcEndpointId"]
                    self._count(f"ec2:vpc-endpoint-{kind.lower()}")
                ids[service] = existing[full]
        self.ctx.resources["vpc_endpoints"] = ids

    def nat(self) -> None:
        """The NAT instance's Auto Scaling group and its launch lifecycle hook."""
        nat = self.t.network.nat
        ec2, asg = self.ctx.client("ec2"), self.ctx.client("autoscaling")
        lt_name = self.ctx.name("nat")
        try:
            ec2.describe_launch_templates(LaunchTemplateNames=[lt_name])
        except ClientError:
            ec2.create_launch_template(LaunchTemplateName=lt_name, LaunchTemplateData={
                "ImageId": "ami-12c6146b", "InstanceType": nat.instance_type,
                "SecurityGroupIds": [self.ctx.resources["security_groups"]["nat"]],
            })
            self._count("ec2:launch-template")
        group = self.ctx.name("nat-asg")
        if not asg.describe_auto_scaling_groups(AutoScalingGroupNames=[group])[
                "AutoScalingGroups"]:
            asg.create_auto_scaling_group(
                AutoScalingGroupName=group,
                LaunchTemplate={"LaunchTemplateName": lt_name, "Version": "$Latest"},
                MinSize=nat.asg_min, MaxSize=nat.asg_max, DesiredCapacity=nat.asg_min,
                VPCZoneIdentifier=",".join(self.ctx.resources["subnets"]["public"].values()),
                # As the Pulumi program tags it: FIS templates select the group by Name.
                Tags=[{"Key": "Name", "Value": group, "PropagateAtLaunch": True,
                       "ResourceId": group, "ResourceType": "auto-scaling-group"}],
            )
            self._count("autoscaling:group")
        hook = nat.lifecycle_hook
        hooks = asg.describe_lifecycle_hooks(AutoScalingGroupName=group)["LifecycleHooks"]
        if not any(h["LifecycleHookName"] == hook.name for h in hooks):
            asg.put_lifecycle_hook(
                LifecycleHookName=hook.name, AutoScalingGroupName=group,
                LifecycleTransition=hook.transition,
                HeartbeatTimeout=hook.heartbeat_timeout, DefaultResult=hook.default_result,
            )
            self._count("autoscaling:lifecycle-hook")
        self._hook_rule(group)
        self.ctx.resources["nat_asg"] = group
        # Private route tables send internet traffic to the NAT instance.
        instances = asg.describe_auto_scaling_groups(AutoScalingGroupNames=[group])[
            "AutoScalingGroups"][0]["Instances"]
        if instances:
            nat_instance = instances[0]["InstanceId"]
            for name, rt_id in self.ctx.resources["route_tables"].items():
                if "private-rt" not in name:
                    continue
                routes = ec2.describe_route_tables(RouteTableIds=[rt_id])["RouteTables"][0][
                    "Routes"]
                if not any(r.get("DestinationCidrBlock") == "0.0.0.0/0" for r in routes):
                    ec2.create_route(RouteTableId=rt_id, DestinationCidrBlock="0.0.0.0/0",
                                     InstanceId=nat_instance)

    def _hook_rule(self, group: str) -> None:
        """As in AWS (and the Pulumi program): EventBridge routes the hook's lifecycle action
        event to its target Lambda."""
        hook = self.t.network.nat.lifecycle_hook
        events = self.ctx.client("events")
        name = self.ctx.name(f"{hook.name}-hook")
        if name in {r["Name"] for r in events.list_rules(NamePrefix=name)["Rules"]}:
            return
        detail_type = ("EC2 Instance-launch Lifecycle Action" if hook.transition.endswith(
            "LAUNCHING") else "EC2 Instance-terminate Lifecycle Action")
        events.put_rule(Name=name, State="ENABLED", EventPattern=json.dumps({
            "source": ["aws.autoscaling"], "detail-type": [detail_type],
            "detail": {"AutoScalingGroupName": [group], "LifecycleHookName": [hook.name]}}))
        events.put_targets(Rule=name, Targets=[{
            "Id": hook.target_lambda, "Arn": self._function_arn(hook.target_lambda)}])
        self._count("events:rule")

    # -- storage and messaging ----------------------------------------------------------------
    def storage(self) -> None:
        s3 = self.ctx.client("s3")
        have = {b["Name"] for b in s3.list_buckets().get("Buckets", [])}
        buckets = {}
        for b in self.t.buckets:
            name = self.ctx.name(b.name)
            if name not in have:
                s3.create_bucket(Bucket=name, CreateBucketConfiguration={
                    "LocationConstraint": self.ctx.region})
                s3.put_bucket_versioning(Bucket=name, VersioningConfiguration={
                    "Status": "Enabled"})
                s3.put_public_access_block(Bucket=name, PublicAccessBlockConfiguration={
                    "BlockPublicAcls": True, "IgnorePublicAcls": True,
                    "BlockPublicPolicy": True, "RestrictPublicBuckets": True})
                self._count("s3:bucket")
            buckets[b.name] = name
        self.ctx.resources["buckets"] = buckets

    def queues(self) -> None:
        sqs = self.ctx.client("sqs")
        urls: dict[str, str] = {}
        arns: dict[str, str] = {}
        # DLQs first: a redrive policy names its DLQ's ARN.
        ordered = sorted(self.t.queues, key=lambda q: q.dlq is not None)
        for q in ordered:
            name = self.ctx.name(q.name)
            attrs = {
                # As declared: it bounds the consumer's work (wall); the event-source mapping
                # lets what is left after a failed invocation pass in simulated time.
                "VisibilityTimeout": str(q.visibility_timeout),
                "MessageRetentionPeriod": str(q.retention_seconds),
            }
            if q.fifo:
                attrs["FifoQueue"] = "true"
                attrs["ContentBasedDeduplication"] = str(q.content_based_dedup).lower()
            if q.dlq:
                attrs["RedrivePolicy"] = json.dumps({"deadLetterTargetArn": arns[q.dlq],
                                                     "maxReceiveCount": q.max_receive_count})
            try:
                url = sqs.get_queue_url(QueueName=name)["QueueUrl"]
            except ClientError:
                url = sqs.create_queue(QueueName=name, Attributes=attrs)["QueueUrl"]
                self._count("sqs:queue")
            urls[q.name] = url
            arns[q.name] = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=[
                "QueueArn"])["Attributes"]["QueueArn"]
        self.ctx.resources["queues"] = {"urls": urls, "arns": arns}

    def tables(self) -> None:
        ddb = self.ctx.client("dynamodb")
        have = set(ddb.list_tables()["TableNames"])
        for tbl in self.t.tables:
            name = self.ctx.name(tbl.name)
            if name in have:
                continue
            keys = [{"AttributeName": tbl.hash_key, "KeyType": "HASH"}]
            attrs = {tbl.hash_key}
            if tbl.range_key:
                keys.append({"AttributeName": tbl.range_key, "KeyType": "RANGE"})
                attrs.add(tbl.range_key)
            gsis = []
            for idx in tbl.indexes:
                ks = [{"AttributeName": idx.hash_key, "KeyType": "HASH"}]
                attrs.add(idx.hash_key)
                if idx.range_key:
                    ks.append({"AttributeName": idx.range_key, "KeyType": "RANGE"})
                    attrs.add(idx.range_key)
                gsis.append({"IndexName": idx.name, "KeySchema": ks,
                             "Projection": {"ProjectionType": "ALL"}})
            kwargs: dict[str, Any] = {
                "TableName": name, "KeySchema": keys, "BillingMode": "PAY_PER_REQUEST",
                "AttributeDefinitions": [{"AttributeName": a, "AttributeType": "S"}
                                         for a in sorted(attrs)],
                "SSESpecification": {"Enabled": True},
            }
            if gsis:
                kwargs["GlobalSecondaryIndexes"] = gsis
            ddb.create_table(**kwargs)
            if tbl.ttl_attribute:
                ddb.update_time_to_live(TableName=name, TimeToLiveSpecification={
                    "Enabled": True, "AttributeName": tbl.ttl_attribute})
            self._count("dynamodb:table")
        self.ctx.resources["tables"] = {t.name: self.ctx.name(t.name) for t in self.t.tables}

    def topics(self) -> None:
        sns = self.ctx.client("sns")
        arns = {}
        for tp in self.t.topics:
            # create_topic is idempotent in SNS itself
            arns[tp.name] = sns.create_topic(Name=self.ctx.name(tp.name))["TopicArn"]
        self.ctx.resources["topics"] = arns
        self.created["sns:topic"] = len(arns)

    def secrets(self) -> None:
        sm = self.ctx.client("secretsmanager")
        arns = {}
        for s in self.t.secrets:
            name = self.ctx.name(s.name)
            try:
                arns[s.name] = sm.describe_secret(SecretId=name)["ARN"]
            except ClientError:
                value: dict[str, Any] = {f: _generate_secret() for f in s.fields}
                if s.name == USERS_SECRET:
                    value = {"users": {u: _generate_secret() for u in _mlflow_users(self.t)}}
                elif s.name == RUNNER_SECRET:
                    value = {"username": RUNNER_USERNAME, "password": _generate_secret()}
                arns[s.name] = sm.create_secret(Name=name, Description=s.description,
                                                SecretString=json.dumps(value))["ARN"]
                self._count("secretsmanager:secret")
        self.ctx.resources["secrets"] = arns

    def identity(self) -> None:
        """The Cognito user pool, the CLI's app client and the default dev user."""
        idp = self.ctx.client("cognito-idp")
        edge = self.t.edge
        pool_name = self.ctx.name(edge.user_pool)
        pools = [p for p in idp.list_user_pools(MaxResults=60)["UserPools"]
                 if p["Name"] == pool_name]
        if pools:
            pool_id = pools[0]["Id"]
        else:
            pool_id = idp.create_user_pool(PoolName=pool_name, Policies={"PasswordPolicy": {
                "MinimumLength": 12}}, UsernameAttributes=["email"])["UserPool"]["Id"]
            self._count("cognito:user-pool")
        client_name = self.ctx.name(edge.app_client)
        clients = [c for c in idp.list_user_pool_clients(UserPoolId=pool_id, MaxResults=60)[
            "UserPoolClients"] if c["ClientName"] == client_name]
        if clients:
            client_id = clients[0]["ClientId"]
        else:
            client_id = idp.create_user_pool_client(
                UserPoolId=pool_id, ClientName=client_name,
                ExplicitAuthFlows=["ALLOW_USER_PASSWORD_AUTH", "ALLOW_ADMIN_USER_PASSWORD_AUTH",
                                   "ALLOW_REFRESH_TOKEN_AUTH"])["UserPoolClient"]["ClientId"]
            self._count("cognito:app-client")
        # One group per spec role (tradai.authz), the default dev user in the README's roles,
        # and one dev user per role (`tradai-sim token --role R`).
        have = {g["GroupName"] for g in idp.list_groups(UserPoolId=pool_id)["Groups"]}
        for precedence, role in enumerate(reversed(edge.roles)):
            if role.name not in have:
                idp.create_group(UserPoolId=pool_id, GroupName=role.name,
                                 Description=role.description, Precedence=precedence)
                self._count("cognito:group")
        creds_file = self.ctx.state_dir / DEV_USER_PASSWORD_FILE
        creds = json.loads(creds_file.read_text()) if creds_file.exists() else {}
        users = {"default": (edge.dev_user, edge.dev_user_roles),
                 **{r.name: (dev_role_user(edge.dev_user, r.name), [r.name])
                    for r in edge.roles}}
        for key, (username, groups) in users.items():
            entry = creds.get("users", {}).get(key)
            password = entry["password"] if entry else _generate_secret() + "aA1!"
            try:
                idp.admin_get_user(UserPoolId=pool_id, Username=username)
            except ClientError:
                idp.admin_create_user(UserPoolId=pool_id, Username=username,
                                      MessageAction="SUPPRESS", UserAttributes=[
                                          {"Name": "email", "Value": username},
                                          {"Name": "email_verified", "Value": "true"}])
                self._count("cognito:user")
            idp.admin_set_user_password(UserPoolId=pool_id, Username=username,
                                        Password=password, Permanent=True)
            for group in groups:
                idp.admin_add_user_to_group(UserPoolId=pool_id, Username=username,
                                            GroupName=group)
            creds.setdefault("users", {})[key] = {"username": username, "password": password,
                                                  "groups": list(groups)}
        creds.update(creds["users"]["default"])  # the default user's keys, as before
        # Local dev credentials only, readable by the owner alone.
        creds_file.write_text(json.dumps(creds))
        creds_file.chmod(0o600)
        self.ctx.resources["cognito"] = {"user_pool_id": pool_id, "client_id": client_id,
                                         "dev_user": edge.dev_user}

    # -- compute ------------------------------------------------------------------------------
    def _role(self, name: str, service: str) -> str:
        iam = self.ctx.client("iam")
        role_name = self.ctx.name(name)
        try:
            return iam.get_role(RoleName=role_name)["Role"]["Arn"]
        except ClientError:
            doc = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {
                "Service": service}, "Action": "sts:AssumeRole"}]}
            self._count("iam:role")
            return iam.create_role(RoleName=role_name, AssumeRolePolicyDocument=json.dumps(
                doc))["Role"]["Arn"]

    def policies(self) -> None:
        """Each function's and container's role gets its policy from the spec's access, as
        the Pulumi program deploys it (bootstrap/policies.py); last, once every ARN exists,
        and before any process runs."""
        roles = attach_policies(self.ctx)
        self.created["iam:role-policy"] = len(roles)
        self.ctx.resources["role_policies"] = roles

    def _function_arn(self, logical: str) -> str:
        return (f"arn:aws:lambda:{self.ctx.region}:{self.ctx.account_id}:function:"
                f"{self.ctx.name(logical)}")

    def runtime_config(self) -> RuntimeConfig[str]:
        """Every function's, service's and task's environment, from the one builder the
        Pulumi program uses too (``tradai.topology.runtime_config``), given this stack's
        resources, the ``task_env`` entries harness parts publish in ``prepare`` (e.g. where
        "the internet's" exchange is) and ``service_env`` for one service (RDS: MLflow's
        database). Each is told only the resources its access names, as on AWS."""
        return runtime_config(self.t, local_deployment(self.ctx))

    def lambdas(self) -> None:
        lam = self.ctx.client("lambda")
        have = {f["FunctionName"] for p in lam.get_paginator("list_functions").paginate()
                for f in p["Functions"]}
        env = self.runtime_config().functions
        functions = {}
        for fn in self.t.lambdas:
            name = self.ctx.name(fn.name)
            functions[fn.name] = self._function_arn(fn.name)
            if not handler_exists(fn.handler):
                self.not_implemented["lambdas"].append(fn.name)
                continue
            if name not in have:
                # Role names as the Pulumi program gives them (<logical>-<kind>), so FIS
                # templates can name a role the same way on both sides.
                role = self._role(f"{fn.name}-fn", "lambda.amazonaws.com")
                kwargs: dict[str, Any] = {}
                if fn.in_vpc:
                    kwargs["VpcConfig"] = {
                        "SubnetIds": list(self.ctx.resources["subnets"]["private"].values()),
                        "SecurityGroupIds": [self.ctx.resources["security_groups"]["lambdas"]]}
                lam.create_function(
                    FunctionName=name, Runtime="python3.11", Role=role, Handler=fn.handler,
                    Code={"ZipFile": platform_package_zip()}, MemorySize=fn.memory,
                    Timeout=fn.timeout, Environment={"Variables": env[fn.name]},
                    **kwargs)
                self._count("lambda:function")
            if fn.trigger.type == "sqs":
                self._sqs_mapping(name, fn.trigger.queue, fn.trigger.batch_size)
        self.ctx.resources["lambdas"] = functions

    def _sqs_mapping(self, function: str, queue: str, batch_size: int) -> None:
        lam = self.ctx.client("lambda")
        arn = self.ctx.resources["queues"]["arns"][queue]
        existing = lam.list_event_source_mappings(FunctionName=function)["EventSourceMappings"]
        if any(m["EventSourceArn"] == arn for m in existing):
            return
        lam.create_event_source_mapping(FunctionName=function, EventSourceArn=arn,
                                        BatchSize=batch_size,
                                        FunctionResponseTypes=["ReportBatchItemFailures"])
        self._count("lambda:event-source-mapping")

    def ecs(self) -> None:
        ecs = self.ctx.client("ecs")
        cluster = self.ctx.name(self.t.cluster)
        clusters = ecs.describe_clusters(clusters=[cluster])["clusters"]
        if not clusters or clusters[0].get("status") != "ACTIVE":
            ecs.create_cluster(clusterName=cluster, capacityProviders=["FARGATE", "FARGATE_SPOT"])
            self._count("ecs:cluster")
        self.ctx.resources["cluster"] = cluster
        cluster_arn = ecs.describe_clusters(clusters=[cluster])["clusters"][0]["clusterArn"]
        self.ctx.resources["cluster_arn"] = cluster_arn
        execution_role = self._role("ecs-execution", "ecs-tasks.amazonaws.com")
        families = set(ecs.list_task_definition_families(status="ACTIVE")["families"])
        task_defs = {}
        config = self.runtime_config()
        containers = [(s.name, s.entrypoint, s.cpu, s.memory, s.port, config.services[s.name])
                      for s in self.t.services]
        containers += [(t.name, t.entrypoint, t.cpu, t.memory, None, config.tasks[t.name])
                       for t in self.t.task_definitions]
        for name, entrypoint, cpu, memory, port, environment in containers:
            family = self.ctx.name(name)
            if family not in families:
                container: dict[str, Any] = {
                    "name": name, "image": f"tradai/{name}:local", "essential": True,
                    "cpu": cpu, "memory": memory,
                    "command": ["python", "-m", entrypoint],
                    "environment": [{"name": k, "value": v}
                                    for k, v in sorted(environment.items())],
                }
                if port:
                    container["portMappings"] = [{"containerPort": port, "protocol": "tcp"}]
                if name in injected_containers(self.ctx):
                    # As the Pulumi program declares them: read by the execution role.
                    container["secrets"] = container_secrets(name, self.ctx.resources["secrets"])
                ecs.register_task_definition(
                    family=family, executionRoleArn=execution_role,
                    taskRoleArn=self._role(f"{name}-task", "ecs-tasks.amazonaws.com"),
                    networkMode="awsvpc", requiresCompatibilities=["FARGATE"],
                    cpu=str(cpu), memory=str(memory), containerDefinitions=[container])
                self._count("ecs:task-definition")
            task_defs[name] = ecs.describe_task_definition(taskDefinition=family)[
                "taskDefinition"]["taskDefinitionArn"]
            if not module_exists(entrypoint):
                kind = "services" if port else "task_definitions"
                self.not_implemented[kind].append(name)
        self.ctx.resources["task_definitions"] = task_defs

        existing = {s["serviceName"] for s in ecs.describe_services(
            cluster=cluster, services=[self.ctx.name(s.name) for s in self.t.services])[
            "services"] if s.get("status") == "ACTIVE"}
        target_groups = self._target_groups()
        for svc in self.t.services:
            if svc.name in self.not_implemented["services"]:
                continue
            name = self.ctx.name(svc.name)
            if name in existing:
                continue
            balancing: dict[str, Any] = {}
            if svc.name in target_groups:  # as the Pulumi program's aws.ecs.Service
                balancing = {
                    "loadBalancers": [{"targetGroupArn": target_groups[svc.name],
                                       "containerName": svc.name, "containerPort": svc.port}],
                    "healthCheckGracePeriodSeconds": lb.HEALTH_CHECK_GRACE_PERIOD_SECONDS}
            ecs.create_service(
                cluster=cluster, serviceName=name, taskDefinition=task_defs[svc.name],
                desiredCount=svc.min, launchType="FARGATE",
                networkConfiguration={"awsvpcConfiguration": {
                    "subnets": list(self.ctx.resources["subnets"]["private"].values()),
                    "securityGroups": [self.ctx.resources["security_groups"]["services"]],
                    "assignPublicIp": "DISABLED"}}, **balancing)
            self._count("ecs:service")

    def _target_groups(self) -> dict[str, str]:
        """One ELBv2 target group per load-balanced service (named as the Pulumi program and
        the ALB metrics name it); service name -> target group ARN."""
        from tradai_sim.cloud.alarms.dimensions import target_group_name

        elbv2 = self.ctx.client("elbv2")
        have = {g["TargetGroupName"]: g["TargetGroupArn"]
                for g in elbv2.describe_target_groups()["TargetGroups"]}
        arns = {}
        for svc in self.t.services:
            if not svc.load_balanced:
                continue
            name = target_group_name(self.ctx.name, svc.name)
            if name not in have:
                have[name] = elbv2.create_target_group(
                    Name=name, VpcId=self.ctx.resources["vpc_id"],
                    **lb.target_group_settings(svc.health_path, svc.port))[
                    "TargetGroups"][0]["TargetGroupArn"]
                elbv2.modify_target_group_attributes(
                    TargetGroupArn=have[name], Attributes=lb.target_group_attributes())
                self._count("elbv2:target-group")
            arns[svc.name] = have[name]
        self.ctx.resources["target_groups"] = arns
        return arns

    # -- orchestration ----------------------------------------------------------------------
    def state_machines(self) -> None:
        sfn = self.ctx.client("stepfunctions")
        have = {m["name"]: m["stateMachineArn"] for m in sfn.list_state_machines()[
            "stateMachines"]}
        values: dict[str, Any] = {
            f"Lambda:{fn.name}": self._function_arn(fn.name) for fn in self.t.lambdas}
        values["Cluster"] = self.ctx.resources["cluster_arn"]
        values.update({f"TaskDefinition:{k}": v
                       for k, v in self.ctx.resources["task_definitions"].items()})
        values["PrivateSubnets"] = list(self.ctx.resources["subnets"]["private"].values())
        values["StrategySecurityGroups"] = [
            self.ctx.resources["security_groups"]["strategy-tasks"]]
        arns = {}
        for m in self.t.state_machines:
            name = self.ctx.name(m.name)
            if name in have:
                arns[m.name] = have[name]
                continue
            asl = load_asl(m.asl)  # as written: waits follow the clock in the interpreter
            role = self._role(f"{m.name}-sfn", "states.amazonaws.com")
            arns[m.name] = sfn.create_state_machine(
                name=name, definition=render_asl(asl, values), roleArn=role,
                type="STANDARD")["stateMachineArn"]
            self._count("stepfunctions:state-machine")
        self.ctx.resources["state_machines"] = arns

    def schedules(self) -> None:
        events = self.ctx.client("events")
        have = {r["Name"] for r in events.list_rules(NamePrefix=self.ctx.name(""))["Rules"]}
        for s in self.t.schedules:
            name = self.ctx.name(s.name)
            if name in have:
                continue
            events.put_rule(Name=name, ScheduleExpression=s.expression, State="ENABLED",
                            Description=f"Scheduled trigger of {s.target_lambda}")
            events.put_targets(Rule=name, Targets=[{
                "Id": s.target_lambda, "Arn": self._function_arn(s.target_lambda)}])
            self._count("events:rule")

    def alarms(self) -> None:
        """As the Pulumi program (infra/tradai_infra/monitoring.py): ALARM and OK go to the
        spec's topic; target groups are named as the local ALB's metrics name them."""
        from tradai_sim.cloud.alarms.dimensions import alarm_dimensions

        cw = self.ctx.client("cloudwatch")
        have = {a["AlarmName"] for a in cw.describe_alarms(
            AlarmNamePrefix=self.ctx.name(""))["MetricAlarms"]}
        for a in self.t.alarms:
            name = self.ctx.name(a.name)
            if name in have:
                continue
            topic = self.ctx.resources["topics"][a.topic]
            statistic = {"ExtendedStatistic" if a.is_percentile else "Statistic": a.statistic}
            cw.put_metric_alarm(
                AlarmName=name, MetricName=a.metric, Namespace=a.namespace, **statistic,
                Dimensions=alarm_dimensions(self.ctx.name, a), Period=a.period,
                EvaluationPeriods=a.evaluation_periods, DatapointsToAlarm=a.points_to_alarm,
                Threshold=a.threshold, ComparisonOperator=a.comparison,
                TreatMissingData=a.treat_missing_data, AlarmActions=[topic], OKActions=[topic])
            self._count("cloudwatch:alarm")


def _tags(resource: str, name: str) -> list[dict[str, Any]]:
    return [{"ResourceType": resource, "Tags": [{"Key": "Name", "Value": name},
                                                 {"Key": "Project", "Value": "tradai"}]}]


def _tag(resource: dict[str, Any], key: str) -> str | None:
    for t in resource.get("Tags", []):
        if t["Key"] == key:
            return t["Value"]
    return None


def _mlflow_users(topology: Topology) -> list[str]:
    """Who gets an MLflow login locally: the gateway's reader and, for each role that may
    promote (the operators), that role's dev user ``<role>@<dev user's domain>``."""
    operators = Authorizer(topology).roles_with(REGISTRY_PROMOTE)
    return [READER_USERNAME, *(dev_role_user(topology.edge.dev_user, r) for r in operators)]


def dev_role_user(dev_user: str, role: str) -> str:
    """``dev@tradai.local`` -> ``operator@tradai.local``: the local dev user of a role."""
    return f"{role}@{dev_user.partition('@')[2] or 'tradai.local'}"


def _generate_secret(length: int = 24) -> str:
    alphabet = string.ascii_letters + string.digits
    return "".join(secrets.choice(alphabet) for _ in range(length))
