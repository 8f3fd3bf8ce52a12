"""Where platform code finds AWS: endpoint, region and credentials come from configuration.

The same code talks to the embedded emulator, LocalStack or AWS; only these settings differ.
boto3 itself honours ``AWS_ENDPOINT_URL`` and the service-specific
``AWS_ENDPOINT_URL_<SERVICE_ID>`` (which wins over it), so clients built here and clients built
by libraries (Powertools, MLflow) reach the same endpoint for the same service.
"""

from __future__ import annotations

import os
from functools import lru_cache
from typing import Any

import boto3
import botocore.session
from botocore.config import Config
from pydantic import AliasChoices, Field
from pydantic_settings import BaseSettings, SettingsConfigDict

# Marks a settings field every deployment must set (see ``deployed``).
DEPLOYED = "tradai_deployed"


def deployed(alias: str | AliasChoices, **kwargs: Any) -> Any:
    """A variable every deployment gives each process that reads it: optional for the code
    (tests and tools build settings without it; a missing one is answered 503 or refused with
    its name), required of the one runtime configuration (``tradai.topology.runtime_config``),
    which ``test_runtime_config`` checks on both the local and the Pulumi side."""
    if "default_factory" not in kwargs:
        kwargs.setdefault("default", None)
    return Field(validation_alias=alias, json_schema_extra={DEPLOYED: True}, **kwargs)


ALERTS_TOPIC_ENV = "TRADAI_ALERTS_TOPIC_ARN"


def require_alerts_topic(topic: str | None, consequence: str) -> str:
    """The alerts topic a monitor announces its incidents on; without one it records none
    (an incident nobody is told of would be marked as told)."""
    if not topic:
        raise RuntimeError(f"no alerts topic configured: set {ALERTS_TOPIC_ENV} (or "
                           f"TRADAI_TOPIC_ALERTS); {consequence}")
    return topic


class AwsSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="", extra="ignore")

    region: str = Field(default="eu-central-1", validation_alias="AWS_DEFAULT_REGION")
    endpoint_url: str | None = Field(default=None, validation_alias="AWS_ENDPOINT_URL")
    environment: str = Field(default="dev", validation_alias="TRADAI_ENV")


@lru_cache(maxsize=1)
def aws_settings() -> AwsSettings:
    return AwsSettings()


# The service ids of the clients the platform makes (botocore's models say the same; a unit
# test compares): reading a model costs a task or a function ~30 ms of JSON per service, and
# boto3 reads it again for the client.
SERVICE_IDS = {"autoscaling": "Auto Scaling", "cloudwatch": "CloudWatch",
               "cognito-idp": "Cognito Identity Provider", "dynamodb": "DynamoDB",
               "ec2": "EC2", "ecs": "ECS", "events": "EventBridge", "lambda": "Lambda",
               "logs": "CloudWatch Logs", "s3": "S3", "secretsmanager": "Secrets Manager",
               "sns": "SNS", "sqs": "SQS", "stepfunctions": "SFN", "sts": "STS"}


@lru_cache(maxsize=64)
def service_endpoint_env(service: str) -> str:
    """botocore's service-specific endpoint variable for a boto3 client name: ``stepfunctions``
    -> ``AWS_ENDPOINT_URL_SFN`` (the service id, upper case, spaces as underscores;
    https://docs.aws.amazon.com/sdkref/latest/guide/feature-ss-endpoints.html)."""
    service_id = SERVICE_IDS.get(service) or \
        botocore.session.get_session().get_service_model(service).service_id
    return f"AWS_ENDPOINT_URL_{str(service_id).replace(' ', '_').upper()}"


def aws_client(service: str, settings: AwsSettings | None = None, **kwargs: Any) -> Any:
    """A boto3 client for ``service`` built from settings (endpoint, region).

    An explicit ``endpoint_url`` overrides botocore's configured endpoints, so the
    service-specific variable is honoured here as botocore would: it wins over the general one.
    """
    s = settings or aws_settings()
    config = kwargs.pop("config", Config(retries={"max_attempts": 3, "mode": "standard"}))
    endpoint = os.environ.get(service_endpoint_env(service)) or s.endpoint_url
    return boto3.client(
        service, region_name=s.region, endpoint_url=endpoint, config=config, **kwargs
    )
