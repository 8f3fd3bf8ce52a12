"""The stack's MLflow (the ECS service under ``up``) runs with basic auth from the
``mlflow-basic-auth`` secret; the ALB's health check stays open, the seed part and the
adapter find the credentials themselves."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
import requests

from tests.integration.cloud import RunningCloud
from tests.integration.test_mlflow_registry import mlflow_url, seeded  # noqa: F401
from tradai.registry import credentials
from tradai.registry.adapter import MLflowAdapter
from tradai.registry.models import RegistryUnavailable
from tradai.settings import aws_settings

pytestmark = pytest.mark.integration
SEARCH = "/api/2.0/mlflow/registered-models/search"


def secret(cloud: RunningCloud) -> dict[str, str]:
    value = cloud.client("secretsmanager").get_secret_value(
        SecretId=cloud.name(credentials.AUTH_SECRET))["SecretString"]
    return dict(json.loads(value))


@pytest.fixture
def as_a_task(cloud: RunningCloud) -> Iterator[None]:
    """This process told what a task is told (where AWS is, which env), no MLflow creds."""
    keys = ("AWS_ENDPOINT_URL", "AWS_DEFAULT_REGION", "AWS_ACCESS_KEY_ID",
            "AWS_SECRET_ACCESS_KEY", "TRADAI_ENV", "TRADAI_PROJECT", "TRADAI_MLFLOW_AUTH",
            "TRADAI_MLFLOW_AUTH_SECRET", "MLFLOW_HTTP_REQUEST_MAX_RETRIES",
            credentials.USERNAME_ENV, credentials.PASSWORD_ENV)
    saved = {k: os.environ.pop(k, None) for k in keys}
    os.environ.update({"AWS_ENDPOINT_URL": cloud.endpoint, "AWS_DEFAULT_REGION": cloud.region,
                       "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                       "TRADAI_ENV": cloud.env, "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "1"})
    _forget_aws()
    try:
        yield
    finally:
        _forget_aws()
        for k, v in saved.items():
            os.environ.pop(k, None)
            if v is not None:
                os.environ[k] = v


def _forget_aws() -> None:
    """What this process cached about AWS (endpoint settings, boto3's resolved credentials,
    the MLflow credentials), so nothing of this test's environment outlives it."""
    credentials.clear_cache()
    aws_settings.cache_clear()
    boto3.DEFAULT_SESSION = None


def test_health_is_open_and_the_api_needs_the_secrets_credentials(
        cloud: RunningCloud, mlflow_url: str) -> None:  # noqa: F811
    assert requests.get(f"{mlflow_url}/health", timeout=5).status_code == 200
    assert requests.get(f"{mlflow_url}{SEARCH}", timeout=5).status_code == 401
    creds = secret(cloud)
    ok = requests.get(f"{mlflow_url}{SEARCH}", auth=(creds["username"], creds["password"]),
                      timeout=5)
    assert ok.status_code == 200, ok.text


def test_the_seed_part_registered_the_examples(seeded: dict[str, Any]) -> None:  # noqa: F811
    assert seeded["state"] == "done" and len(seeded["registered"]) >= 2


def test_the_adapter_reads_the_secret_itself(cloud: RunningCloud, mlflow_url: str,  # noqa: F811
                                             seeded: dict[str, Any],  # noqa: F811
                                             as_a_task: None) -> None:
    names = {s.name for s in MLflowAdapter(mlflow_url).list_strategies()}
    assert {r["name"] for r in seeded["registered"]} <= names
    assert os.environ[credentials.USERNAME_ENV] == secret(cloud)["username"]


def test_credentials_in_the_environment_win(mlflow_url: str, as_a_task: None  # noqa: F811
                                            ) -> None:
    os.environ[credentials.USERNAME_ENV] = "someone"
    os.environ[credentials.PASSWORD_ENV] = "not-the-password"
    with pytest.raises(RegistryUnavailable):
        MLflowAdapter(mlflow_url).list_strategies()


def test_auth_off_by_configuration_gives_401_not_a_crash(mlflow_url: str,  # noqa: F811
                                                         as_a_task: None) -> None:
    os.environ["TRADAI_MLFLOW_AUTH"] = "none"
    assert credentials.USERNAME_ENV not in os.environ
    with pytest.raises(RegistryUnavailable):
        MLflowAdapter(mlflow_url).list_strategies()
    assert credentials.USERNAME_ENV not in os.environ


def test_the_auth_config_is_private_and_no_credential_is_logged(cloud: RunningCloud,
                                                                mlflow_url: str  # noqa: F811
                                                                ) -> None:
    ini = cloud.state_dir / "mlflow" / "mlflow-auth.ini"
    assert ini.stat().st_mode & 0o777 == 0o600
    password = secret(cloud)["password"]
    for path in (cloud.state_dir / "logs").rglob("*"):
        if path.is_file():
            assert password not in path.read_text(errors="replace"), path
