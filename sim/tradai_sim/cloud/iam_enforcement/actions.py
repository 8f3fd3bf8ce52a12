"""A request -> the IAM checks AWS makes for it: (action, resource ARN, condition context).

Action names are ``<prefix>:<Operation>`` except where the Service Authorization Reference
names them otherwise (https://docs.aws.amazon.com/service-authorization/latest/reference/
reference_policies_actions-resources-contextkeys.html): S3's REST operations
(HeadObject -> s3:GetObject, ListObjectsV2/HeadBucket -> s3:ListBucket, multipart ->
s3:PutObject, DeleteObjects -> s3:DeleteObject per key), Lambda Invoke ->
lambda:InvokeFunction, SQS/SNS batch calls -> their single action.

An operation the mapping does not know, or whose resource it cannot read, is *unresolved*:
the interceptor records it and lets it through (the only allow-and-record case besides
unknown condition keys). A known operation is always judged.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs
from xml.etree import ElementTree

from tradai_sim.cloud.iam_enforcement.lookups import Lookups

PREFIXES = {"monitoring": "cloudwatch"}  # SigV4 signing name -> IAM action prefix


@dataclass
class Check:
    action: str
    resource: str
    # condition keys (lower case) this request supplies; None = known absent
    context: dict[str, tuple[str, ...] | None] = field(default_factory=dict)
    # keys under these prefixes are known for this request (absent unless in ``context``)
    known_prefixes: tuple[str, ...] = ()


@dataclass
class Mapped:
    checks: list[Check]
    unresolved: str | None = None  # why this request cannot be judged (then no checks)


@dataclass
class Request:
    service: str  # SigV4 signing name
    operation: str
    region: str
    account: str
    params: dict[str, Any]  # JSON/CBOR body, query form, or REST path labels + query
    headers: dict[str, str] = field(default_factory=dict)
    body: Callable[[], bytes | None] = lambda: None  # REST bodies, read only when needed


Mapper = Callable[[Request, Lookups], list[Check] | None]


def _arn(req: Request, service: str, resource: str, region: bool = True,
         account: bool = True) -> str:
    return (f"arn:aws:{service}:{req.region if region else ''}:"
            f"{req.account if account else ''}:{resource}")


def _str(params: dict[str, Any], key: str) -> str | None:
    value = params.get(key)
    return str(value) if isinstance(value, str | int) and str(value) else None


# -- DynamoDB ----------------------------------------------------------------------------------
def _table_arn(req: Request, name: str) -> str:
    return name if name.startswith("arn:") else _arn(req, "dynamodb", f"table/{name}")


_TRANSACT = {"Put": "PutItem", "Update": "UpdateItem", "Delete": "DeleteItem",
             "ConditionCheck": "ConditionCheckItem", "Get": "GetItem"}


def dynamodb(req: Request, _: Lookups) -> list[Check] | None:
    p, op = req.params, req.operation
    if op in ("BatchGetItem", "BatchWriteItem"):
        return [Check(f"dynamodb:{op}", _table_arn(req, t)) for t in p.get("RequestItems") or {}]
    if op in ("TransactWriteItems", "TransactGetItems"):
        out = []
        for item in p.get("TransactItems") or []:
            for kind, body in item.items():
                if kind in _TRANSACT and isinstance(body, dict) and body.get("TableName"):
                    out.append(Check(f"dynamodb:{_TRANSACT[kind]}",
                                     _table_arn(req, str(body["TableName"]))))
        return out or None
    table = _str(p, "TableName")
    if table is None:
        return [Check(f"dynamodb:{op}", "*")] if op in ("ListTables", "DescribeLimits",
                                                        "DescribeEndpoints") else None
    arn = _table_arn(req, table)
    index = _str(p, "IndexName")
    return [Check(f"dynamodb:{op}", f"{arn}/index/{index}" if index else arn)]


# -- SQS ---------------------------------------------------------------------------------------
_SQS_RENAMES = {"SendMessageBatch": "SendMessage", "DeleteMessageBatch": "DeleteMessage",
                "ChangeMessageVisibilityBatch": "ChangeMessageVisibility"}
_QUEUE_URL = re.compile(r"^\w+://[^/]+/(\d{12})/([^/?]+)")


def _queue_arn(req: Request, url: str) -> str | None:
    if url.startswith("arn:"):
        return url
    match = _QUEUE_URL.match(url)
    return (f"arn:aws:sqs:{req.region}:{match.group(1)}:{match.group(2)}" if match else None)


def sqs(req: Request, _: Lookups) -> list[Check] | None:
    p, op = req.params, req.operation
    action = f"sqs:{_SQS_RENAMES.get(op, op)}"
    if op == "ListQueues":
        return [Check(action, "*")]
    if op in ("GetQueueUrl", "CreateQueue") and _str(p, "QueueName"):
        owner = _str(p, "QueueOwnerAWSAccountId") or req.account
        return [Check(action, f"arn:aws:sqs:{req.region}:{owner}:{p['QueueName']}")]
    if op in ("StartMessageMoveTask", "ListMessageMoveTasks") and _str(p, "SourceArn"):
        return [Check(action, str(p["SourceArn"]))]
    if op == "CancelMessageMoveTask" and _str(p, "TaskHandle"):
        # The handle is opaque on AWS; moto's (and AWS's, today) is base64 JSON naming the
        # source queue.
        try:
            source = json.loads(base64.b64decode(str(p["TaskHandle"]))).get("sourceArn")
        except (ValueError, AttributeError):
            source = None
        return [Check(action, str(source))] if source else None
    url = _str(p, "QueueUrl")
    arn = _queue_arn(req, url) if url else None
    return [Check(action, arn)] if arn else None


# -- SNS ---------------------------------------------------------------------------------------
def sns(req: Request, _: Lookups) -> list[Check] | None:
    p, op = req.params, req.operation
    action = "sns:Publish" if op == "PublishBatch" else f"sns:{op}"
    if op in ("ListTopics", "ListSubscriptions", "CreatePlatformApplication"):
        return [Check(action, "*")]
    if op == "CreateTopic" and _str(p, "Name"):
        return [Check(action, _arn(req, "sns", str(p["Name"])))]
    target = _str(p, "TopicArn") or _str(p, "TargetArn")
    if target is None and _str(p, "SubscriptionArn"):
        target = str(p["SubscriptionArn"]).rsplit(":", 1)[0]  # the topic it belongs to
    return [Check(action, target)] if target else None


# -- Secrets Manager ---------------------------------------------------------------------------
def secretsmanager(req: Request, look: Lookups) -> list[Check] | None:
    p, op = req.params, req.operation
    action = f"secretsmanager:{op}"
    if op in ("ListSecrets", "GetRandomPassword", "BatchGetSecretValue"):
        return [Check(action, "*")]
    secret = _str(p, "SecretId") or (_str(p, "Name") if op == "CreateSecret" else None)
    if secret is None:
        return None
    # Policies name the full ARN (name + "-" + 6 random characters); a name or partial ARN
    # in the request is authorised as the secret's full ARN.
    arn = look.secret_arn(req.region, secret)
    if arn is None:
        arn = secret if secret.startswith("arn:") else _arn(req, "secretsmanager",
                                                             f"secret:{secret}")
    return [Check(action, arn)]


# -- Step Functions ----------------------------------------------------------------------------
def states(req: Request, _: Lookups) -> list[Check] | None:
    p, op = req.params, req.operation
    action = f"states:{op}"
    if op in ("ListStateMachines", "ListActivities", "SendTaskSuccess", "SendTaskFailure",
              "SendTaskHeartbeat", "CreateStateMachine", "ValidateStateMachineDefinition"):
        return [Check(action, "*")]
    arn = _str(p, "executionArn") or _str(p, "stateMachineArn") or _str(p, "resourceArn") \
        or _str(p, "mapRunArn")
    return [Check(action, arn)] if arn else None


# -- Lambda ------------------------------------------------------------------------------------
_LAMBDA_RENAMES = {"Invoke": "InvokeFunction", "InvokeAsync": "InvokeFunction",
                   "InvokeWithResponseStream": "InvokeFunction",
                   "GetFunctionConfiguration": "GetFunctionConfiguration"}


def _function_arn(req: Request, name: str, qualifier: str | None) -> str:
    if name.startswith("arn:"):
        return name
    if ":function:" in name:  # partial ARN: ACCOUNT:function:NAME[:QUALIFIER]
        return f"arn:aws:lambda:{req.region}:{name}"
    return _arn(req, "lambda", f"function:{name}" + (f":{qualifier}" if qualifier else ""))


def lambda_(req: Request, _: Lookups) -> list[Check] | None:
    p, op = req.params, req.operation
    action = f"lambda:{_LAMBDA_RENAMES.get(op, op)}"
    if op in ("ListFunctions", "ListLayers", "GetAccountSettings", "ListEventSourceMappings"):
        return [Check(action, "*")]
    name = _str(p, "FunctionName")
    return [Check(action, _function_arn(req, name, _str(p, "Qualifier")))] if name else None


# -- ECS ---------------------------------------------------------------------------------------
def _cluster_arn(req: Request, cluster: str | None) -> str:
    cluster = cluster or "default"
    return cluster if cluster.startswith("arn:") else _arn(req, "ecs", f"cluster/{cluster}")


def _in_cluster(req: Request, cluster_arn: str, arn_or_id: str, kind: str) -> str:
    if arn_or_id.startswith("arn:"):
        return arn_or_id
    return _arn(req, "ecs", f"{kind}/{cluster_arn.rsplit('/', 1)[-1]}/{arn_or_id}")


_ECS_STAR = ("RegisterTaskDefinition", "DeregisterTaskDefinition", "DescribeTaskDefinition",
             "ListTaskDefinitions", "ListTaskDefinitionFamilies", "ListClusters",
             "CreateCluster", "DiscoverPollEndpoint", "ListAccountSettings")
_PASS_TO_ECS = {"iam:passedtoservice": ("ecs-tasks.amazonaws.com",)}


def ecs(req: Request, look: Lookups) -> list[Check] | None:
    p, op = req.params, req.operation
    action = f"ecs:{op}"
    if op in _ECS_STAR:
        return [Check(action, "*")]
    cluster = _cluster_arn(req, _str(p, "cluster"))
    ctx: dict[str, tuple[str, ...] | None] = {"ecs:cluster": (cluster,)}
    if op in ("ListTasks", "ListServices", "ListContainerInstances"):
        return [Check(action, "*", ctx)]
    if op in ("RunTask", "StartTask"):
        ref = _str(p, "taskDefinition")
        if ref is None:
            return None
        family, _, rev = ref.rsplit("/", 1)[-1].partition(":")
        td = look.task_definition(req.region, family, int(rev) if rev.isdigit() else None)
        arn = str(td.arn) if td is not None else _arn(
            req, "ecs", f"task-definition/{family}:{rev or '*'}")
        checks = [Check(action, arn, ctx)]
        # Running a task passes its roles to ECS: iam:PassRole on each
        # (https://docs.aws.amazon.com/AmazonECS/latest/developerguide/task-iam-roles.html).
        overrides = p.get("overrides") or {}
        roles = {overrides.get("taskRoleArn") or getattr(td, "task_role_arn", None),
                 overrides.get("executionRoleArn") or getattr(td, "execution_role_arn", None)}
        checks += [Check("iam:PassRole", str(r), dict(_PASS_TO_ECS)) for r in roles if r]
        return checks
    if op in ("StopTask", "DescribeTasks"):
        tasks = [p["task"]] if _str(p, "task") else list(p.get("tasks") or [])
        return [Check(action, _in_cluster(req, cluster, str(t), "task"), ctx)
                for t in tasks] or None
    if op == "CreateService" and _str(p, "serviceName"):
        return [Check(action, _in_cluster(req, cluster, str(p["serviceName"]), "service"),
                      ctx)]
    if op in ("UpdateService", "DeleteService", "DescribeServices"):
        services = [p["service"]] if _str(p, "service") else list(p.get("services") or [])
        return [Check(action, _in_cluster(req, cluster, str(s), "service"), ctx)
                for s in services] or None
    if op == "DescribeClusters":
        return [Check(action, _cluster_arn(req, str(c))) for c in p.get("clusters") or
                ["default"]]
    return None


# -- EC2 ---------------------------------------------------------------------------------------
def _tag_context(tags: dict[str, str] | None, *prefixes: str) -> dict[str, tuple[str, ...]]:
    return {f"{prefix}:resourcetag/{k}".lower(): (v,) for k, v in (tags or {}).items()
            for prefix in prefixes}


def ec2(req: Request, look: Lookups) -> list[Check] | None:
    p, op = req.params, req.operation
    action = f"ec2:{op}"
    if op.startswith("Describe"):  # no resource-level permissions for Describe calls
        return [Check(action, "*")]
    if op in ("CreateRoute", "ReplaceRoute", "DeleteRoute") and _str(p, "RouteTableId"):
        return [Check(action, _arn(req, "ec2", f"route-table/{p['RouteTableId']}"))]
    instances = [str(v) for k, v in p.items() if k == "InstanceId" or
                 re.fullmatch(r"InstanceId\.\d+", k)]
    if instances and op in ("ModifyInstanceAttribute", "StartInstances", "StopInstances",
                            "TerminateInstances", "RebootInstances"):
        return [Check(action, _arn(req, "ec2", f"instance/{i}"),
                      _tag_context(look.instance_tags(req.region, i), "aws", "ec2"),
                      ("aws:resourcetag/", "ec2:resourcetag/")) for i in instances]
    return None


# -- Auto Scaling ------------------------------------------------------------------------------
def autoscaling(req: Request, look: Lookups) -> list[Check] | None:
    p, op = req.params, req.operation
    action = f"autoscaling:{op}"
    if op.startswith("Describe"):
        return [Check(action, "*")]
    name = _str(p, "AutoScalingGroupName")
    if name is None:
        return None
    found = look.group(req.region, name)
    arn, tags = found if found else (_arn(
        req, "autoscaling", f"autoScalingGroup:*:autoScalingGroupName/{name}"), {})
    return [Check(action, arn, _tag_context(tags, "aws", "autoscaling"),
                  ("aws:resourcetag/", "autoscaling:resourcetag/"))]


# -- CloudWatch --------------------------------------------------------------------------------
def cloudwatch(req: Request, _: Lookups) -> list[Check] | None:
    p, op = req.params, req.operation
    action = f"cloudwatch:{op}"
    if op == "PutMetricData":
        namespace = _str(p, "Namespace")
        return [Check(action, "*", {"cloudwatch:namespace": (namespace,) if namespace
                                    else None})]
    if op in ("GetMetricStatistics", "GetMetricData", "ListMetrics", "DescribeAlarms",
              "DescribeAlarmsForMetric", "DescribeAlarmHistory", "ListDashboards"):
        return [Check(action, "*")]
    names = [str(v) for k, v in p.items() if k == "AlarmName" or
             re.fullmatch(r"AlarmNames(\.member)?\.\d+", k)] + list(p.get("AlarmNames") or [])
    return [Check(action, _arn(req, "cloudwatch", f"alarm:{n}")) for n in names] or None


# -- CloudWatch Logs, STS, IAM, Cognito --------------------------------------------------------
def logs(req: Request, _: Lookups) -> list[Check] | None:
    p, op = req.params, req.operation
    group, stream = _str(p, "logGroupName"), _str(p, "logStreamName")
    if group is None:
        return [Check(f"logs:{op}", "*")] if op == "DescribeLogGroups" else None
    resource = f"log-group:{group}" + (f":log-stream:{stream}" if stream else ":*")
    return [Check(f"logs:{op}", _arn(req, "logs", resource))]


# Calls AWS answers without an identity policy (https://docs.aws.amazon.com/STS/latest/
# APIReference/API_GetCallerIdentity.html; Cognito's unauthenticated user-pool calls).
PUBLIC = {("sts", "GetCallerIdentity"), ("cognito-idp", "InitiateAuth"),
          ("cognito-idp", "RespondToAuthChallenge"), ("cognito-idp", "SignUp"),
          ("cognito-idp", "ConfirmSignUp"), ("cognito-idp", "GetUser"),
          ("cognito-idp", "ForgotPassword"), ("cognito-idp", "GlobalSignOut")}


def sts(req: Request, _: Lookups) -> list[Check] | None:
    role = _str(req.params, "RoleArn")
    return [Check(f"sts:{req.operation}", role)] if role else None


def iam(req: Request, _: Lookups) -> list[Check] | None:
    p, op = req.params, req.operation
    if _str(p, "RoleName"):
        return [Check(f"iam:{op}", _arn(req, "iam", f"role/{p['RoleName']}", region=False))]
    if _str(p, "PolicyArn"):
        return [Check(f"iam:{op}", str(p["PolicyArn"]))]
    return [Check(f"iam:{op}", "*")] if op.startswith("List") else None


def cognito(req: Request, _: Lookups) -> list[Check] | None:
    pool = _str(req.params, "UserPoolId")
    if pool:
        return [Check(f"cognito-idp:{req.operation}",
                      _arn(req, "cognito-idp", f"userpool/{pool}"))]
    return [Check(f"cognito-idp:{req.operation}", "*")] if req.operation == "ListUserPools" \
        else None


# -- S3 ----------------------------------------------------------------------------------------
_S3_ACTIONS = {
    "GetObject": "GetObject", "HeadObject": "GetObject", "PutObject": "PutObject",
    "CreateMultipartUpload": "PutObject", "UploadPart": "PutObject",
    "CompleteMultipartUpload": "PutObject", "AbortMultipartUpload": "AbortMultipartUpload",
    "ListParts": "ListMultipartUploadParts", "DeleteObject": "DeleteObject",
    "GetObjectTagging": "GetObjectTagging", "PutObjectTagging": "PutObjectTagging",
    "GetObjectAttributes": "GetObjectAttributes",
    # bucket-level
    "ListObjects": "ListBucket", "ListObjectsV2": "ListBucket", "HeadBucket": "ListBucket",
    "ListObjectVersions": "ListBucketVersions",
    "ListMultipartUploads": "ListBucketMultipartUploads",
    "GetBucketLocation": "GetBucketLocation", "GetBucketVersioning": "GetBucketVersioning",
    "CreateBucket": "CreateBucket", "DeleteBucket": "DeleteBucket",
    "GetBucketPolicy": "GetBucketPolicy", "GetBucketTagging": "GetBucketTagging",
}
_VERSIONED = {"GetObject": "GetObjectVersion", "HeadObject": "GetObjectVersion",
              "DeleteObject": "DeleteObjectVersion"}


def s3(req: Request, _: Lookups) -> list[Check] | None:
    p, op = req.params, req.operation
    bucket, key = _str(p, "Bucket"), p.get("Key")
    if op == "ListBuckets":
        return [Check("s3:ListAllMyBuckets", "*")]
    if bucket is None:
        return None
    bucket_arn = f"arn:aws:s3:::{bucket}"
    if op == "DeleteObjects":
        raw = req.body()
        if raw is None:
            return None
        try:
            keys = [el.text or "" for el in ElementTree.fromstring(raw).iter()
                    if el.tag.rsplit("}", 1)[-1] == "Key"]
        except ElementTree.ParseError:
            return None
        return [Check("s3:DeleteObject", f"{bucket_arn}/{k}") for k in keys] or None
    if op in ("CopyObject", "UploadPartCopy"):
        source = req.headers.get("x-amz-copy-source", "").lstrip("/").split("?")[0]
        return [Check("s3:PutObject", f"{bucket_arn}/{key}"),
                Check("s3:GetObject", f"arn:aws:s3:::{source}")] if source and key else None
    name = _S3_ACTIONS.get(op)
    if name is None:
        return None
    if "versionId" in p and op in _VERSIONED:
        name = _VERSIONED[op]
    if key is not None and name not in ("ListBucket", "ListBucketVersions",
                                        "ListBucketMultipartUploads", "GetBucketLocation"):
        return [Check(f"s3:{name}", f"{bucket_arn}/{key}")]
    ctx: dict[str, tuple[str, ...] | None] = {}
    if name == "ListBucket":
        prefix = _str(p, "prefix")
        ctx = {"s3:prefix": (prefix,) if prefix is not None else None}
    return [Check(f"s3:{name}", bucket_arn, ctx)]


MAPPERS: dict[str, Mapper] = {
    "dynamodb": dynamodb, "sqs": sqs, "sns": sns, "secretsmanager": secretsmanager,
    "states": states, "lambda": lambda_, "ecs": ecs, "ec2": ec2, "autoscaling": autoscaling,
    "monitoring": cloudwatch, "logs": logs, "sts": sts, "iam": iam, "cognito-idp": cognito,
    "s3": s3,
}


def action_name(service: str, operation: str) -> str:
    return f"{PREFIXES.get(service, service)}:{operation}"


def map_request(req: Request, look: Lookups) -> Mapped:
    if (req.service, req.operation) in PUBLIC:
        return Mapped([])
    mapper = MAPPERS.get(req.service)
    if mapper is None:
        return Mapped([], f"service {req.service} is not mapped")
    try:
        checks = mapper(req, look)
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        return Mapped([], f"parameters not readable ({type(exc).__name__}: {exc})")
    if checks is None:
        return Mapped([], "operation or its resource not mapped")
    return Mapped(checks)


def query_params(query: str, body: bytes | None) -> dict[str, Any]:
    """A query-protocol request's flat parameters (``Name.member.1`` kept as is)."""
    out: dict[str, Any] = {k: v[0] for k, v in parse_qs(query).items()}
    if body:
        out.update({k: v[0] for k, v in parse_qs(body.decode("utf-8", "replace")).items()})
    return out
