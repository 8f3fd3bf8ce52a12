"""Fuzz the backend's OpenAPI document with schemathesis: no generated input gets a 5xx.

The app runs in process with moto (DynamoDB + SQS) and the fake registry; the caller is a
fixed owner (token validation has its own tests). Skipped when schemathesis is not installed
(it is a test-only dependency)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

schemathesis = pytest.importorskip("schemathesis")
import boto3  # noqa: E402
from hypothesis import HealthCheck, settings  # noqa: E402  (after the skip)
from moto import mock_aws  # noqa: E402

from tests.unit.spec_tables import create_spec_table  # noqa: E402
from tests.unit.test_backend_fixtures import (  # noqa: E402
    AUDIT_TABLE,
    TABLE,
    FakeRegistry,
    create_aws,
    principal,
)
from tests.unit.test_trading_sessions import create_trading_aws  # noqa: E402
from tradai.services.backend_api.dependencies import (  # noqa: E402
    get_principal,
    get_registry,
    get_settings,
    get_trading_settings,
)
from tradai.services.backend_api.main import create_app  # noqa: E402
from tradai.services.backend_api.settings import BackendSettings  # noqa: E402

app = create_app()
schema = schemathesis.openapi.from_asgi("/openapi.json", app)


@pytest.fixture(scope="module")
def backend(monkeypatch_module: pytest.MonkeyPatch) -> Iterator[None]:
    with mock_aws():
        _, _, url = create_aws()
        # The model lifecycle's tables and queue: configured, as every deployment has them.
        ddb = boto3.client("dynamodb")
        create_spec_table(ddb, "retraining-state", "fuzz-retraining-state")
        create_spec_table(ddb, "drift-state", "fuzz-drift-state")
        retraining = boto3.client("sqs").create_queue(
            QueueName="fuzz-retraining.fifo", Attributes={"FifoQueue": "true"})["QueueUrl"]
        cfg = BackendSettings(TRADAI_QUEUE_BACKTEST_QUEUE=url, TRADAI_TABLE_WORKFLOW_STATE=TABLE,
                              TRADAI_MLFLOW_URL="http://registry.invalid",
                              TRADAI_TABLE_REGISTRY_AUDIT=AUDIT_TABLE,
                              TRADAI_TABLE_RETRAINING_STATE="fuzz-retraining-state",
                              TRADAI_TABLE_DRIFT_STATE="fuzz-drift-state",
                              TRADAI_QUEUE_RETRAINING_QUEUE=retraining)
        registry = FakeRegistry()
        trading = create_trading_aws()  # the sessions' table, cluster and secret
        app.dependency_overrides.update({get_trading_settings: lambda: trading,
                                         get_settings: lambda: cfg,
                                         get_registry: lambda: registry,
                                         get_principal: lambda: principal("fuzzer", ("operator",))})
        yield
        app.dependency_overrides.clear()


@pytest.fixture(scope="module")
def monkeypatch_module() -> Iterator[pytest.MonkeyPatch]:
    mp = pytest.MonkeyPatch()
    for k, v in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                 "AWS_DEFAULT_REGION": "eu-central-1"}.items():
        mp.setenv(k, v)
    mp.delenv("AWS_ENDPOINT_URL", raising=False)
    from tradai.settings import aws_settings
    aws_settings.cache_clear()
    yield mp
    mp.undo()
    aws_settings.cache_clear()


@schema.parametrize()
@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                 HealthCheck.filter_too_much])
def test_no_5xx(case: Any, backend: None) -> None:
    response = case.call()
    # 503 is the documented answer for "data collection / strategy service not configured"
    # here (neither runs in this test); anything else in the 5xx range is a bug.
    allowed = {503} if case.path.startswith("/api/v1/data") or (
        case.method == "POST" and case.path == "/api/v1/strategies") else set()
    assert response.status_code < 500 or response.status_code in allowed, (
        case.method, case.path, response.text)
