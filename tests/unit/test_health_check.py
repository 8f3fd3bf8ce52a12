"""health-check's domain: each service is probed at its service-discovery URL; the transition
to unhealthy alerts once however many checks see it, recovery sends one notice, a service first
seen failing is STARTING for its start-up grace (as ECS ignores a new task's failing health
checks for its grace period:
https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_CreateService.html,
healthCheckGracePeriodSeconds) and alerts when it never comes up, racing checks publish once.

Real HTTP servers stand in for the services (a 2xx answer is healthy; another status, a refused
connection or a timeout is not). AWS behaviour relied on: conditional writes apply atomically
(https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/Expressions.ConditionExpressions.html);
Cloud Map's DNS names are ``<service>.<namespace>``
(https://docs.aws.amazon.com/cloud-map/latest/dg/working-with-services.html); SNS subjects are
ASCII, one line, under 100 characters (https://docs.aws.amazon.com/sns/latest/api/API_Publish.html).
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import boto3
import pytest
from moto import mock_aws

from tradai.health import alerts
from tradai.health.checker import HealthChecker, HealthSettings
from tradai.health.discovery import env_name, service_url
from tradai.health.probe import probe
from tradai.health.state import HealthStateStore
from tradai.topology import default_topology
from tradai.topology.model import Service

REGION = "eu-central-1"
TABLE = "tradai-test-service-health"
T0 = 1_900_000_000.0


class FakeClock:
    def __init__(self) -> None:
        self.t = T0

    def now(self) -> float:
        return self.t


class FakeService:
    """An HTTP server answering GET /health with ``code`` after ``delay`` wall seconds."""

    def __init__(self) -> None:
        self.code, self.delay = 200, 0.0
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                time.sleep(owner.delay)
                body = b'{"status": "ok"}' if self.path == "/health" else b"{}"
                code = owner.code if self.path == "/health" else 404
                self.send_response(code)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def _service(name: str, port: int = 8000) -> Service:
    return Service(name=name, entrypoint="x", cpu=256, memory=512, port=port, min=1, max=1,
                   health_path="/health", cpu_target=70, load_balanced=False)


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Aws:
    def __init__(self, api: FakeService) -> None:
        self.ddb = boto3.client("dynamodb", region_name=REGION)
        self.sns = boto3.client("sns", region_name=REGION)
        self.sqs = boto3.client("sqs", region_name=REGION)
        self.cw = boto3.client("cloudwatch", region_name=REGION)
        self.ddb.create_table(TableName=TABLE, BillingMode="PAY_PER_REQUEST",
                              KeySchema=[{"AttributeName": "service", "KeyType": "HASH"}],
                              AttributeDefinitions=[{"AttributeName": "service",
                                                     "AttributeType": "S"}])
        self.topic = self.sns.create_topic(Name="tradai-test-alerts")["TopicArn"]
        self.queue = self.sqs.create_queue(QueueName="alerts-inbox")["QueueUrl"]
        arn = self.sqs.get_queue_attributes(QueueUrl=self.queue, AttributeNames=["QueueArn"])[
            "Attributes"]["QueueArn"]
        self.sns.subscribe(TopicArn=self.topic, Protocol="sqs", Endpoint=arn)
        self.clock = FakeClock()
        self.api = api
        self.environ = {"TRADAI_BACKEND_URL": api.url,
                        # nothing listens there: a service that never came up
                        "TRADAI_DATA_COLLECTION_URL": f"http://127.0.0.1:{_closed_port()}"}

    def checker(self, services: list[str] | None = None, ddb: Any = None, sns: Any = None,
                timeout: float = 2.0, start_grace: float = 300.0) -> HealthChecker:
        names = services or ["backend-api"]
        return HealthChecker([_service(n) for n in names], HealthStateStore(ddb or self.ddb,
                                                                            TABLE),
                             sns or self.sns, self.topic, self.cw, self.clock, "tradai", "test",
                             timeout=timeout, start_grace=start_grace, environ=self.environ)

    def alerts(self) -> list[tuple[str, dict[str, Any]]]:
        out = []
        while True:
            msgs = self.sqs.receive_message(QueueUrl=self.queue, MaxNumberOfMessages=10).get(
                "Messages", [])
            if not msgs:
                return out
            for m in msgs:
                envelope = json.loads(m["Body"])
                out.append((envelope["Subject"], json.loads(envelope["Message"])))
                self.sqs.delete_message(QueueUrl=self.queue, ReceiptHandle=m["ReceiptHandle"])

    def state(self, service: str) -> dict[str, Any]:
        raw = self.ddb.get_item(TableName=TABLE, Key={"service": {"S": service}})["Item"]
        return {k: (float(v["N"]) if "N" in v else v.get("S")) for k, v in raw.items()}


@pytest.fixture
def aws() -> Iterator[Aws]:
    api = FakeService()
    try:
        with mock_aws():
            yield Aws(api)
    finally:
        api.close()


def test_a_healthy_service_is_recorded_without_alert(aws: Aws) -> None:
    for _ in range(3):
        aws.clock.t += 120
        report = aws.checker().check()
        assert report.unhealthy == [] and report.failed == []
    assert aws.alerts() == []
    state = aws.state("backend-api")
    assert state["status"] == "HEALTHY" and state["since"] == T0 + 120
    assert state["checked_at"] == T0 + 360 and state["reason"] == "200 OK"


def test_failure_alerts_once_and_recovery_once(aws: Aws) -> None:
    checker = aws.checker()
    aws.clock.t += 120
    checker.check()
    aws.api.code = 503
    for i in range(4):  # one incident seen by four checks
        aws.clock.t += 120
        report = checker.check()
        assert report.unhealthy == ["backend-api"]
        assert report.failed == (["backend-api"] if i == 0 else [])
    aws.api.code = 200
    aws.clock.t += 120
    assert checker.check().recovered == ["backend-api"]
    aws.clock.t += 120
    assert checker.check().recovered == []
    published = aws.alerts()
    assert [b["alert"] for _, b in published] == [alerts.FAILED, alerts.RECOVERED]
    (subject, failed), (notice_subject, notice) = published
    assert subject == "UNHEALTHY service backend-api: 503 Service Unavailable"
    assert failed["url"] == aws.api.url + "/health" and failed["status_code"] == 503
    assert failed["incident"] == 1
    assert notice_subject == "RECOVERED service backend-api: healthy again after 480 s"
    assert notice["unhealthy_seconds"] == 480 and notice["incident"] == 1
    state = aws.state("backend-api")
    assert state["status"] == "HEALTHY" and state["recovered_at"] == T0 + 720
    assert state["incidents"] == 1


def test_a_second_incident_alerts_again(aws: Aws) -> None:
    checker = aws.checker()
    for code in (200, 500, 200, 500, 500):
        aws.api.code = code
        aws.clock.t += 120
        checker.check()
    kinds = [(b["alert"], b["incident"]) for _, b in aws.alerts()]
    assert kinds == [(alerts.FAILED, 1), (alerts.RECOVERED, 1), (alerts.FAILED, 2)]
    assert aws.state("backend-api")["incidents"] == 2


def test_a_service_never_healthy_alerts_once_its_start_up_grace_is_over(aws: Aws) -> None:
    checker = aws.checker(["backend-api", "data-collection"], start_grace=300)
    report = checker.check()  # first seen at T0, failing: starting
    assert report.failed == [] and report.unhealthy == ["data-collection"]
    assert aws.state("data-collection")["status"] == "STARTING"
    aws.clock.t = T0 + 240
    assert checker.check().failed == []
    aws.clock.t = T0 + 360
    assert checker.check().failed == ["data-collection"]
    aws.clock.t = T0 + 480
    assert checker.check().failed == []
    [(subject, body)] = aws.alerts()
    assert subject.startswith("UNHEALTHY service data-collection: never healthy, ConnectError")
    assert subject.isascii() and len(subject) < 100 and body["status_code"] is None
    assert body["never_healthy"] is True and "first seen 360 s ago" in body["detail"]


def test_a_service_that_comes_up_within_its_grace_is_not_announced(aws: Aws) -> None:
    aws.api.code = 503
    checker = aws.checker(start_grace=300)
    checker.check()
    aws.api.code = 200
    aws.clock.t = T0 + 120
    checker.check()
    assert aws.alerts() == []
    state = aws.state("backend-api")
    assert state["status"] == "HEALTHY" and state["since"] == T0 + 120
    assert "recovered_at" not in state and "incidents" not in state


def test_without_a_grace_the_first_failure_alerts(aws: Aws) -> None:
    assert aws.checker(["data-collection"], start_grace=0).check().failed == ["data-collection"]


def test_a_probe_that_times_out_is_a_failure(aws: Aws) -> None:
    aws.checker().check()  # healthy
    aws.api.delay = 1.5
    aws.clock.t += 120
    report = aws.checker(timeout=0.3).check()
    assert report.results["backend-api"]["result"] == "timed out after 0.3 s"
    assert report.failed == ["backend-api"]


class Racing:
    """Both checks have read the state before either writes; DynamoDB then applies their
    writes to the one item one at a time."""

    def __init__(self, ddb: Any, barrier: threading.Barrier, lock: threading.Lock) -> None:
        self.ddb, self.barrier, self.lock = ddb, barrier, lock

    def __getattr__(self, name: str) -> Any:
        return getattr(self.ddb, name)

    def update_item(self, **kwargs: Any) -> Any:
        self.barrier.wait(timeout=10)
        with self.lock:
            return self.ddb.update_item(**kwargs)


@pytest.mark.parametrize("first,then,kind", [(200, 503, alerts.FAILED),
                                              (503, 200, alerts.RECOVERED)])
def test_two_concurrent_checks_announce_a_transition_once(aws: Aws, first: int, then: int,
                                                          kind: str) -> None:
    for code in (200, first):  # HEALTHY, then the state the race starts from
        aws.api.code = code
        aws.clock.t += 120
        aws.checker().check()
    aws.alerts()
    aws.api.code = then
    aws.clock.t += 120
    barrier, lock = threading.Barrier(2), threading.Lock()
    reports: list[Any] = []
    threads = [threading.Thread(target=lambda: reports.append(
        aws.checker(ddb=Racing(aws.ddb, barrier, lock)).check())) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert len(reports) == 2
    assert [b["alert"] for _, b in aws.alerts()] == [kind]


def test_a_failed_publish_undoes_the_transition(aws: Aws) -> None:
    aws.checker().check()
    aws.api.code = 502

    class SnsDown:
        def publish(self, **kwargs: Any) -> Any:
            raise ConnectionError("sns unreachable")

    aws.clock.t += 120
    report = aws.checker(sns=SnsDown()).check()
    assert report.failed == [] and "sns unreachable" in report.errors[0]
    state = aws.state("backend-api")
    assert state["status"] == "HEALTHY" and state["incidents"] == 0
    aws.clock.t += 120
    assert aws.checker().check().failed == ["backend-api"]
    assert len(aws.alerts()) == 1


def test_each_check_puts_service_healthy_per_service(aws: Aws) -> None:
    aws.checker(["backend-api", "data-collection"]).check()
    window = {"StartTime": datetime.now(UTC) - timedelta(hours=1),
              "EndTime": datetime.now(UTC) + timedelta(hours=1), "Period": 3600,
              "Statistics": ["Minimum"]}
    values = {}
    for name in ("backend-api", "data-collection"):
        points = aws.cw.get_metric_statistics(
            Namespace="TradAI/Health", MetricName="ServiceHealthy",
            Dimensions=[{"Name": "Service", "Value": name}], **window)["Datapoints"]
        values[name] = [p["Minimum"] for p in points]
    assert values == {"backend-api": [1.0], "data-collection": [0.0]}


def test_discovery_variables_match_the_local_cloud_and_fall_back_to_cloud_map() -> None:
    """The names the local cloud puts in every function's environment are the ones read here;
    without them the URL is the service's Cloud Map name."""
    from tradai_sim.cloud.edge.config import EdgePorts, discovery_env

    services = default_topology().services
    ports = EdgePorts(1, 2, {s.name: 10000 + i for i, s in enumerate(services)})
    local = discovery_env(ports)
    for i, s in enumerate(services):
        assert local[env_name(s.name)] == f"http://127.0.0.1:{10000 + i}"
        assert service_url(s, "tradai", "prod", local) == f"http://127.0.0.1:{10000 + i}"
        assert service_url(s, "tradai", "prod", {}) == \
            f"http://{s.name}.tradai-prod.local:{s.port}"


def test_probe_reports_a_non_2xx_answer_as_unhealthy() -> None:
    svc = FakeService()
    try:
        svc.code = 404
        result = probe("x", svc.url + "/health", timeout=2)
        assert not result.healthy and result.status_code == 404
        svc.code = 204
        assert probe("x", svc.url + "/health", timeout=2).healthy
    finally:
        svc.close()


def test_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ("TRADAI_ALERTS_TOPIC_ARN", "TRADAI_TOPIC_ALERTS",
                "TRADAI_TABLE_SERVICE_HEALTH", "TRADAI_HEALTH_TIMEOUT_SECONDS"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("TRADAI_ENV", "prod")
    settings = HealthSettings()
    assert settings.table == "tradai-prod-service-health" and settings.timeout_seconds == 5.0
    with pytest.raises(RuntimeError, match="TRADAI_ALERTS_TOPIC_ARN"):
        settings.topic()
    assert any(t.name == "service-health" and t.hash_key == "service"
               for t in default_topology().tables)
