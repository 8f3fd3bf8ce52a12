"""The edge: HTTP API with a Cognito JWT authorizer, a VPC Link to the ALB, the direct SQS
integration for backtest submission, a WAF rate limit per client (JWT subject), the groups
(one per spec role, ``groups.py``), and MLflow read-only through the gateway.

MLflow routes: reads (GET, and the searches MLflow sends as POST, the spec's
``edge.mlflow_read_only_posts``) go to MLflow; every other method under ``/mlflow`` is a
registry write and goes to the backend's ``/api/v1/mlflow-writes``, which answers 403 naming
the API route to use (the registry is written only through the platform, with its role check
and audit record). HTTP APIs pick the most specific route: a full match of path and method
first, then a greedy path variable, and ``ANY`` matches only the methods no route of that path
defines (https://docs.aws.amazon.com/apigateway/latest/developerguide/
http-api-develop-routes.html, "Routing API requests"). So ``POST /mlflow/<search>`` and
``GET /mlflow/{proxy+}`` win over ``ANY /mlflow/{proxy+}``.

MLflow's read routes have no JWT authorizer: MLflow checks its own basic auth (an operator's or
the reader's login from ``mlflow-users``), and a Cognito token in ``Authorization`` would take
the place of the basic credentials MLflow wants. The ALB forwards ``/mlflow/...`` unchanged
to MLflow, which serves under that prefix (``mlflow_access.py``). Their rate-limit key is the
caller's source IP (no JWT subject to count by).
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from tradai.topology.model import Route
from tradai_infra.compute import Compute
from tradai_infra.context import Context
from tradai_infra.groups import build_groups
from tradai_infra.iam import Statement, role_with_policy
from tradai_infra.mlflow_access import static_prefix
from tradai_infra.network import VPC_LINK, Network
from tradai_infra.secret_values import GATEWAY_CLIENT_SECRET

# WAF evaluation windows it supports; the spec's window must be one of them.
WAF_WINDOWS = (60, 120, 300, 600)
# The backend route that refuses MLflow writes, and the header naming the path refused.
MLFLOW_WRITES_PATH = "/api/v1/mlflow-writes"
MLFLOW_PATH_HEADER = "x-tradai-mlflow-path"


def route_key(route: Route) -> str:
    """``/mlflow/*`` -> ``ANY /mlflow/{proxy+}`` (HTTP API's greedy path variable)."""
    path = route.path[:-1] + "{proxy+}" if route.path.endswith("/*") else route.path
    return f"{route.method} {path}"


def mlflow_route_keys(route: Route, read_only_posts: list[str]) -> list[str]:
    """The routes to MLflow itself, under the spec route's prefix (``/mlflow/*``): reads only."""
    prefix = route.path.removesuffix("/*")
    return [f"GET {prefix}/{{proxy+}}", *(f"POST {prefix}{path}" for path in read_only_posts)]


# The caller's JWT subject, set by API Gateway on every request it forwards to the ALB, so the
# WAF rule there counts each client apart (the local gateway limits by the same subject).
# ``overwrite``: a client cannot send its own value. Parameter mapping values may be context
# variables, and $context.authorizer.claims.<claim> is the JWT authorizer's claims
# (https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-parameter-mapping.html).
CLIENT_HEADER = "x-tradai-client"
CLIENT_MAPPING = {f"overwrite:header.{CLIENT_HEADER}": "$context.authorizer.claims.sub"}
# Routes without an authorizer (MLflow's, basic auth): the caller's address instead.
SOURCE_IP_MAPPING = {f"overwrite:header.{CLIENT_HEADER}": "$context.identity.sourceIp"}


def mlflow_write_parameters() -> dict[str, str]:
    """Parameter mapping of the refusing integration (https://docs.aws.amazon.com/apigateway/
    latest/developerguide/http-api-parameter-mapping.html): the path becomes the backend's
    refusal route, and the original path (``$request.path``, without the stage) travels in a
    header so the refusal can name the API route for that write."""
    return {"overwrite:path": MLFLOW_WRITES_PATH,
            f"append:header.{MLFLOW_PATH_HEADER}": "$request.path", **CLIENT_MAPPING}


@dataclass(frozen=True)
class Identity:
    pool: aws.cognito.UserPool
    client: aws.cognito.UserPoolClient


def build_identity(ctx: Context) -> Identity:
    """The Cognito user pool and the CLI's app client: declared before the services, whose
    environment names them (the backend validates tokens against them; without the ids it
    would have to list the account's pools)."""
    spec = ctx.topo.edge
    pool = aws.cognito.UserPool(
        ctx.name(spec.user_pool),
        name=ctx.name(spec.user_pool),
        username_attributes=["email"],
        auto_verified_attributes=["email"],
        password_policy={"minimum_length": 12, "require_lowercase": True,
                         "require_numbers": True, "require_symbols": False,
                         "require_uppercase": True},
        deletion_protection="ACTIVE" if ctx.settings.is_production else "INACTIVE",
        tags=ctx.tags,
    )
    client = aws.cognito.UserPoolClient(
        ctx.name(spec.app_client),
        name=ctx.name(spec.app_client),
        user_pool_id=pool.id,
        generate_secret=False,  # a CLI cannot keep a secret
        explicit_auth_flows=["ALLOW_USER_SRP_AUTH", "ALLOW_USER_PASSWORD_AUTH",
                             "ALLOW_REFRESH_TOKEN_AUTH"],
        prevent_user_existence_errors="ENABLED",
    )
    return Identity(pool=pool, client=client)


def build_api(ctx: Context) -> aws.apigatewayv2.Api:
    """The HTTP API itself, declared before the services: the strategy tasks' MLflow run
    links name its ``/mlflow`` route (``mlflow_public_url``), the one a user's browser can
    open (MLflow's basic auth; the ALB and Cloud Map names are inside the VPC)."""
    return aws.apigatewayv2.Api(
        ctx.name("api"), name=ctx.name("api"), protocol_type="HTTP", tags=ctx.tags
    )


def mlflow_public_url(ctx: Context, api: aws.apigatewayv2.Api) -> pulumi.Output[str]:
    """``https://<api>/mlflow``: the ``$default`` stage has no path of its own."""
    prefix = static_prefix(ctx.topo)
    return api.api_endpoint.apply(lambda e: e.rstrip("/") + prefix)


def build_edge(ctx: Context, net: Network, compute: Compute, api: aws.apigatewayv2.Api,
               queues: dict[str, aws.sqs.Queue], identity: Identity,
               fault_templates: dict[str, aws.fis.ExperimentTemplate] | None = None,
               client_secret: aws.secretsmanager.Secret | None = None,
               ) -> aws.apigatewayv2.Api:
    spec = ctx.topo.edge
    pool, client = identity.pool, identity.client
    if client_secret is not None:
        # The spec's gateway-client secret: the app client id, for callers outside the stack.
        aws.secretsmanager.SecretVersion(
            f"{ctx.name(GATEWAY_CLIENT_SECRET)}-value", secret_id=client_secret.id,
            secret_string=pulumi.Output.json_dumps({"client_id": client.id}),
            opts=pulumi.ResourceOptions(parent=client_secret))
    build_groups(ctx, pool, client, queues, fault_templates or {})
    authorizer = aws.apigatewayv2.Authorizer(
        ctx.name("jwt"),
        api_id=api.id,
        name="cognito-jwt",
        authorizer_type="JWT",
        identity_sources=["$request.header.Authorization"],
        jwt_configuration={
            "audiences": [client.id],
            "issuer": pool.id.apply(
                lambda pid: f"https://cognito-idp.{ctx.region}.amazonaws.com/{pid}"
            ),
        },
    )
    link = aws.apigatewayv2.VpcLink(
        ctx.name("vpc-link"),
        name=ctx.name("vpc-link"),
        subnet_ids=net.private_subnet_ids,
        security_group_ids=[net.groups[VPC_LINK].id],
        tags=ctx.tags,
    )
    def alb(resource: str, parameters: dict[str, str]) -> aws.apigatewayv2.Integration:
        """An integration to the ALB over the VPC Link with this parameter mapping."""
        return aws.apigatewayv2.Integration(
            ctx.name(resource),
            api_id=api.id,
            integration_type="HTTP_PROXY",
            integration_method="ANY",
            integration_uri=compute.listener.arn,
            connection_type="VPC_LINK",
            connection_id=link.id,
            payload_format_version="1.0",
            request_parameters=parameters,
        )

    alb_integration = alb("alb-integration", CLIENT_MAPPING)
    mlflow_reads = alb("mlflow-integration", SOURCE_IP_MAPPING)
    # Same ALB and link; only MLflow's writes are re-pathed to the backend's refusal.
    mlflow_writes = alb("mlflow-writes-integration", mlflow_write_parameters())

    def declare(resource: str, key: str, integration: aws.apigatewayv2.Integration,
                jwt: bool = True) -> None:
        aws.apigatewayv2.Route(
            ctx.name(resource),
            api_id=api.id,
            route_key=key,
            target=integration.id.apply(lambda iid: f"integrations/{iid}"),
            authorization_type="JWT" if jwt else "NONE",
            authorizer_id=authorizer.id if jwt else None,
        )

    for i, route in enumerate(spec.routes):
        if route.target == "queue":
            declare(f"route-{i}", route_key(route),
                    _queue_integration(ctx, api, queues[route.queue], route))
        elif route.service == "mlflow":
            # Reads to MLflow; the spec route's own key (ANY, greedy) refuses the rest.
            # MLflow's basic auth, not the JWT authorizer (module docstring).
            for j, key in enumerate(mlflow_route_keys(route, spec.mlflow_read_only_posts)):
                declare(f"route-{i}-read-{j}", key, mlflow_reads, jwt=False)
            # Writes keep the authorizer: the backend's refusal names the API route for the
            # caller it knows (a basic-auth caller gets API Gateway's 401 instead).
            declare(f"route-{i}", route_key(route), mlflow_writes)
        else:
            declare(f"route-{i}", route_key(route), alb_integration)
    # No stage throttle: an HTTP API's route throttling counts every caller together, so the
    # spec's per-client figure there would cap all users at once (100 per 300 s = 0.33 req/s
    # for everyone). The account's API Gateway quota still bounds the whole; the per-client
    # window is the WAF rule below, keyed on the caller's subject.
    aws.apigatewayv2.Stage(
        ctx.name("stage"),
        api_id=api.id,
        name="$default",
        auto_deploy=True,
        tags=ctx.tags,
    )
    _waf(ctx, compute)
    return api


def _queue_integration(ctx: Context, api: aws.apigatewayv2.Api, queue: aws.sqs.Queue,
                       route: Route) -> aws.apigatewayv2.Integration:
    """POST lands straight in the FIFO queue: the response returns before any compute runs."""
    role = role_with_policy(
        ctx.name("api-sqs-role"), ctx.role_name("api", "sqs"), "apigateway.amazonaws.com",
        [Statement(("sqs:SendMessage",), (queue.arn,))], ctx.tags,
    )
    return aws.apigatewayv2.Integration(
        ctx.name(f"{route.queue}-integration"),
        api_id=api.id,
        integration_type="AWS_PROXY",
        integration_subtype="SQS-SendMessage",
        credentials_arn=role.arn,
        payload_format_version="1.0",
        request_parameters={
            "QueueUrl": queue.url,
            "MessageBody": "$request.body",
            # FIFO ordering per caller; content-based dedup supplies the deduplication id.
            "MessageGroupId": "$context.authorizer.claims.sub",
        },
    )


def _waf(ctx: Context, compute: Compute) -> aws.wafv2.WebAcl:
    """HTTP APIs cannot carry a web ACL, so it guards the ALB behind the VPC Link and counts
    each client by the JWT subject API Gateway puts in ``CLIENT_HEADER`` (custom aggregation
    key: https://docs.aws.amazon.com/waf/latest/APIReference/API_RateBasedStatementCustomKey
    .html). A request without the header (not through the API) is not rate-counted; the
    ALB is internal and its security group admits only the VPC Link."""
    rate = ctx.topo.edge.rate_limit
    metric = {"cloudwatch_metrics_enabled": True, "sampled_requests_enabled": True}
    acl = aws.wafv2.WebAcl(
        ctx.name("waf"),
        name=ctx.name("waf"),
        scope="REGIONAL",
        default_action={"allow": {}},
        rules=[{
            "name": "rate-limit",
            "priority": 1,
            "action": {"block": {}},
            "statement": {"rate_based_statement": {
                "limit": rate.requests,
                "evaluation_window_sec": rate.per_seconds,
                "aggregate_key_type": "CUSTOM_KEYS",
                "custom_keys": [{"header": {
                    "name": CLIENT_HEADER,
                    "text_transformations": [{"priority": 0, "type": "NONE"}]}}],
            }},
            "visibility_config": {**metric, "metric_name": "rate-limit"},
        }],
        visibility_config={**metric, "metric_name": ctx.name("waf")},
        tags=ctx.tags,
    )
    aws.wafv2.WebAclAssociation(
        ctx.name("waf-alb"),
        resource_arn=compute.load_balancer.arn,
        web_acl_arn=acl.arn,
        opts=pulumi.ResourceOptions(parent=acl),
    )
    return acl
