"""trading-heartbeat-check's domain: a heartbeat older than 3 minutes opens one incident with one
alert however many checks see it, a returning heartbeat sends one recovery notice, a second
incident alerts again, racing checks publish once, stopped and expired sessions are ignored and
a session that never started alerts too.

AWS behaviour relied on:
- conditional writes: the condition is evaluated and the write applied as one step, the loser
  gets ConditionalCheckFailedException
  (https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/Expressions.ConditionExpressions.html);
- a failed asynchronous invocation is run twice more
  (https://docs.aws.amazon.com/lambda/latest/dg/invocation-async-error-handling.html), so a
  check may repeat: it must not announce twice;
- SNS Subject: ASCII, one line, under 100 characters
  (https://docs.aws.amazon.com/sns/latest/api/API_Publish.html).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from moto import mock_aws

from tradai.trading import alerts
from tradai.trading.monitor import HeartbeatMonitor, MonitorSettings, heartbeat_age
from tradai.trading.records import STALE_AFTER_SECONDS, display_status

REGION = "eu-central-1"
TABLE = "tradai-test-trading-heartbeats"
T0 = 1_900_000_000.0


class FakeClock:
    def __init__(self, t: float = T0) -> None:
        self.t = t

    def now(self) -> float:
        return self.t


class Aws:
    def __init__(self) -> None:
        self.ddb = boto3.client("dynamodb", region_name=REGION)
        self.sns = boto3.client("sns", region_name=REGION)
        self.sqs = boto3.client("sqs", region_name=REGION)
        self.cw = boto3.client("cloudwatch", region_name=REGION)
        self.ddb.create_table(TableName=TABLE, BillingMode="PAY_PER_REQUEST",
                              KeySchema=[{"AttributeName": "strategy_id", "KeyType": "HASH"}],
                              AttributeDefinitions=[{"AttributeName": "strategy_id",
                                                     "AttributeType": "S"}])
        self.topic = self.sns.create_topic(Name="tradai-test-alerts")["TopicArn"]
        self.queue = self.sqs.create_queue(QueueName="alerts-inbox")["QueueUrl"]
        arn = self.sqs.get_queue_attributes(QueueUrl=self.queue, AttributeNames=["QueueArn"])[
            "Attributes"]["QueueArn"]
        self.sns.subscribe(TopicArn=self.topic, Protocol="sqs", Endpoint=arn)
        self.clock = FakeClock()

    def monitor(self, ddb: Any = None, sns: Any = None) -> HeartbeatMonitor:
        return HeartbeatMonitor(ddb or self.ddb, TABLE, sns or self.sns, self.topic, self.cw,
                                self.clock)

    def alerts(self) -> list[tuple[str, dict[str, Any]]]:
        """Everything published to the topic since the last call, oldest first."""
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

    def session(self, sid: str, heartbeat: float | None, status: str = "STARTING",
                ttl: float | None = None) -> None:
        item = {"strategy_id": {"S": sid}, "owner": {"S": "user-1"},
                "strategy": {"S": "EmaCrossover"}, "ref": {"S": "champion"},
                "mode": {"S": "dry-run"}, "status": {"S": status},
                "created_at": {"N": str(self.clock.t)}}
        if heartbeat is not None:
            item["last_heartbeat"] = {"N": str(heartbeat)}
            item["version"] = {"N": "3"}
        if ttl is not None:
            item["ttl"] = {"N": str(int(ttl))}
        self.ddb.put_item(TableName=TABLE, Item=item)

    def heartbeat(self, sid: str) -> None:
        """What the container writes: its own attributes only."""
        self.ddb.update_item(TableName=TABLE, Key={"strategy_id": {"S": sid}},
                             UpdateExpression="SET last_heartbeat = :t ADD heartbeats :one",
                             ExpressionAttributeValues={":t": {"N": str(self.clock.t)},
                                                        ":one": {"N": "1"}})

    def item(self, sid: str) -> dict[str, Any]:
        raw = self.ddb.get_item(TableName=TABLE, Key={"strategy_id": {"S": sid}})["Item"]
        out: dict[str, Any] = {}
        for k, v in raw.items():
            (kind, value), = v.items()
            out[k] = float(value) if kind == "N" else value
        return out


@pytest.fixture
def aws() -> Iterator[Aws]:
    with mock_aws():
        yield Aws()


def test_a_fresh_session_never_alerts(aws: Aws) -> None:
    aws.session("fresh-dry-run", heartbeat=T0)
    monitor = aws.monitor()
    for _ in range(6):  # 6 minutes, a heartbeat every 30 s
        for _ in range(2):
            aws.clock.t += 30
            aws.heartbeat("fresh-dry-run")
        report = monitor.check()
        assert report.monitored == 1 and report.stale == []
    assert aws.alerts() == []
    assert "stale_since" not in aws.item("fresh-dry-run")


def test_one_alert_per_incident_however_many_checks_see_it(aws: Aws) -> None:
    aws.session("emacrossover-dry-run", heartbeat=T0)
    monitor = aws.monitor()
    aws.clock.t = T0 + STALE_AFTER_SECONDS  # exactly 3 minutes: not older than the threshold
    assert monitor.check().alerted == []
    aws.clock.t = T0 + STALE_AFTER_SECONDS + 1
    first = monitor.check()
    assert first.alerted == ["emacrossover-dry-run"]
    for _ in range(5):  # later checks of the same incident, and Lambda's retries of one
        aws.clock.t += 60
        again = monitor.check()
        assert again.alerted == [] and again.stale == ["emacrossover-dry-run"]
    published = aws.alerts()
    assert len(published) == 1
    subject, body = published[0]
    assert subject.startswith("STALE trading session emacrossover-dry-run")
    assert subject.isascii() and "\n" not in subject and len(subject) < 100
    assert body["alert"] == alerts.STALE
    assert body["session"] == "emacrossover-dry-run" and body["strategy"] == "EmaCrossover"
    assert body["mode"] == "dry-run" and body["version"] == 3 and body["owner"] == "user-1"
    assert body["heartbeat_age_seconds"] == STALE_AFTER_SECONDS + 1
    assert body["last_heartbeat"] == datetime.fromtimestamp(T0, UTC).isoformat().replace(
        "+00:00", "Z")
    assert body["stale_since"] == (datetime.fromtimestamp(T0, UTC) + timedelta(
        seconds=STALE_AFTER_SECONDS + 1)).isoformat().replace("+00:00", "Z")
    item = aws.item("emacrossover-dry-run")
    assert item["stale_since"] == item["stale_alerted_at"] == T0 + STALE_AFTER_SECONDS + 1
    assert item["incidents"] == 1
    assert display_status(item) == "STALE"


def test_recovery_notice_then_a_second_incident_alerts_again(aws: Aws) -> None:
    sid = "emacrossover-live"
    aws.session(sid, heartbeat=T0)
    monitor = aws.monitor()
    aws.clock.t = T0 + 240
    assert monitor.check().alerted == [sid]
    aws.clock.t = T0 + 300
    aws.heartbeat(sid)  # the container is back
    aws.clock.t = T0 + 310
    assert monitor.check().recovered == [sid]
    for _ in range(3):
        aws.clock.t += 30
        aws.heartbeat(sid)
        assert monitor.check().recovered == []
    item = aws.item(sid)
    assert "stale_since" not in item and item["recovered_at"] == T0 + 310
    assert display_status(item) == "RUNNING"
    # a second incident: the last heartbeat at T0 + 400
    aws.clock.t = T0 + 400 + STALE_AFTER_SECONDS + 5
    assert monitor.check().alerted == [sid]
    assert monitor.check().alerted == []
    kinds = [(b["alert"], b["incident"]) for _, b in aws.alerts()]
    assert kinds == [(alerts.STALE, 1), (alerts.RECOVERED, 1), (alerts.STALE, 2)]
    assert aws.item(sid)["incidents"] == 2


def test_recovery_notice_says_how_long_it_was_stale(aws: Aws) -> None:
    aws.session("s-dry-run", heartbeat=T0)
    monitor = aws.monitor()
    aws.clock.t = T0 + 200
    monitor.check()
    aws.clock.t = T0 + 500
    aws.heartbeat("s-dry-run")
    monitor.check()
    (_, stale), (subject, notice) = aws.alerts()
    assert subject == "RECOVERED trading session s-dry-run: heartbeats back after 300 s stale"
    assert notice["stale_seconds"] == 300 and notice["heartbeat_age_seconds"] == 0
    assert notice["stale_since"] == stale["stale_since"]


class Racing:
    """Both checks have read the table before either writes: their first UpdateItem calls wait
    for each other, then reach DynamoDB, which applies writes to one item one at a time."""

    def __init__(self, ddb: Any, barrier: threading.Barrier, lock: threading.Lock) -> None:
        self.ddb, self.barrier, self.lock = ddb, barrier, lock

    def __getattr__(self, name: str) -> Any:
        return getattr(self.ddb, name)

    def update_item(self, **kwargs: Any) -> Any:
        self.barrier.wait(timeout=10)
        with self.lock:
            return self.ddb.update_item(**kwargs)


def test_two_concurrent_checks_publish_one_alert(aws: Aws) -> None:
    aws.session("race-dry-run", heartbeat=T0)
    aws.clock.t = T0 + 400
    barrier, lock = threading.Barrier(2), threading.Lock()
    reports: list[Any] = []

    def run() -> None:
        reports.append(aws.monitor(ddb=Racing(aws.ddb, barrier, lock)).check())

    threads = [threading.Thread(target=run) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert len(reports) == 2
    assert sorted(len(r.alerted) for r in reports) == [0, 1]
    assert sorted(len(r.lost) for r in reports) == [0, 1]
    assert len(aws.alerts()) == 1
    assert aws.item("race-dry-run")["incidents"] == 1


def test_two_concurrent_recoveries_publish_one_notice(aws: Aws) -> None:
    aws.session("race-live", heartbeat=T0)
    aws.clock.t = T0 + 400
    aws.monitor().check()
    aws.heartbeat("race-live")
    aws.alerts()
    barrier, lock = threading.Barrier(2), threading.Lock()
    reports: list[Any] = []
    threads = [threading.Thread(target=lambda: reports.append(
        aws.monitor(ddb=Racing(aws.ddb, barrier, lock)).check())) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert sorted(len(r.recovered) for r in reports) == [0, 1]
    assert [b["alert"] for _, b in aws.alerts()] == [alerts.RECOVERED]


def test_a_heartbeat_between_the_scan_and_the_mark_wins(aws: Aws) -> None:
    """The check read an old heartbeat; the container wrote one before the check's write: the
    condition sees the new heartbeat and nothing is marked or announced."""
    aws.session("late-dry-run", heartbeat=T0)
    aws.clock.t = T0 + 400

    class HeartbeatFirst:
        def __getattr__(self, name: str) -> Any:
            return getattr(aws.ddb, name)

        def update_item(self, **kwargs: Any) -> Any:
            aws.heartbeat("late-dry-run")
            return aws.ddb.update_item(**kwargs)

    report = aws.monitor(ddb=HeartbeatFirst()).check()
    assert report.alerted == [] and report.lost == ["late-dry-run"]
    assert aws.alerts() == []
    assert "stale_since" not in aws.item("late-dry-run")


def test_stopped_stopping_and_expired_sessions_are_ignored(aws: Aws) -> None:
    aws.session("stopped-dry-run", heartbeat=T0, status="STOPPED")
    aws.session("stopping-dry-run", heartbeat=T0, status="STOPPING")
    aws.session("expired-dry-run", heartbeat=T0, ttl=T0 + 100)
    aws.session("watched-dry-run", heartbeat=T0, status="STARTING")
    aws.clock.t = T0 + 1000
    report = aws.monitor().check()
    assert report.monitored == 1 and report.alerted == ["watched-dry-run"]
    assert [b["session"] for _, b in aws.alerts()] == ["watched-dry-run"]
    for sid in ("stopped-dry-run", "stopping-dry-run", "expired-dry-run"):
        assert "stale_since" not in aws.item(sid)


def test_a_session_stopped_while_stale_gets_no_recovery_notice(aws: Aws) -> None:
    aws.session("gone-dry-run", heartbeat=T0)
    monitor = aws.monitor()
    aws.clock.t = T0 + 400
    monitor.check()
    aws.ddb.update_item(TableName=TABLE, Key={"strategy_id": {"S": "gone-dry-run"}},
                        UpdateExpression="SET #s = :s", ExpressionAttributeNames={"#s": "status"},
                        ExpressionAttributeValues={":s": {"S": "STOPPED"}})
    aws.clock.t += 600
    assert monitor.check().monitored == 0
    assert [b["alert"] for _, b in aws.alerts()] == [alerts.STALE]
    assert display_status(aws.item("gone-dry-run")) == "STOPPED"


def test_a_session_that_never_started_alerts(aws: Aws) -> None:
    aws.session("never-dry-run", heartbeat=None)  # created at T0, no heartbeat ever
    monitor = aws.monitor()
    aws.clock.t = T0 + 120
    assert monitor.check().alerted == []  # still starting
    aws.clock.t = T0 + 181
    assert monitor.check().alerted == ["never-dry-run"]
    [(subject, body)] = aws.alerts()
    assert "no heartbeat since it started" in subject
    assert body["never_started"] is True and body["last_heartbeat"] is None
    assert body["heartbeat_age_seconds"] == 181
    # its first heartbeat is the recovery
    aws.heartbeat("never-dry-run")
    assert monitor.check().recovered == ["never-dry-run"]


def test_a_failed_publish_gives_the_incident_back(aws: Aws) -> None:
    """The alert could not be sent: the incident is reopened so that the next check (or
    Lambda's retry of this one) announces it, and the check reports the error."""
    aws.session("flaky-dry-run", heartbeat=T0)
    aws.clock.t = T0 + 400

    class SnsDown:
        def publish(self, **kwargs: Any) -> Any:
            raise ConnectionError("sns unreachable")

    report = aws.monitor(sns=SnsDown()).check()
    assert report.alerted == [] and report.errors and "sns unreachable" in report.errors[0]
    item = aws.item("flaky-dry-run")
    assert "stale_since" not in item and item["incidents"] == 0
    aws.clock.t += 60
    assert aws.monitor().check().alerted == ["flaky-dry-run"]
    assert len(aws.alerts()) == 1
    assert aws.item("flaky-dry-run")["incidents"] == 1


def test_each_check_puts_the_stale_count(aws: Aws) -> None:
    aws.session("a-dry-run", heartbeat=T0)
    aws.session("b-dry-run", heartbeat=T0 + 300)
    aws.clock.t = T0 + 400
    aws.monitor().check()
    stats = aws.cw.get_metric_statistics(
        Namespace="TradAI/Trading", MetricName="StaleSessions", Statistics=["Maximum"],
        StartTime=datetime.now(UTC) - timedelta(hours=1),
        EndTime=datetime.now(UTC) + timedelta(hours=1), Period=3600)["Datapoints"]
    assert [d["Maximum"] for d in stats] == [1.0]
    ages = aws.cw.get_metric_statistics(
        Namespace="TradAI/Trading", MetricName="MaxHeartbeatAge", Statistics=["Maximum"],
        StartTime=datetime.now(UTC) - timedelta(hours=1),
        EndTime=datetime.now(UTC) + timedelta(hours=1), Period=3600)["Datapoints"]
    assert [d["Maximum"] for d in ages] == [400.0]


def test_heartbeat_age_falls_back_to_creation() -> None:
    assert heartbeat_age({"last_heartbeat": 100.0, "created_at": 10.0}, 160.0) == 60.0
    assert heartbeat_age({"created_at": 10.0}, 160.0) == 150.0
    assert heartbeat_age({}, 160.0) is None


def test_settings_name_the_missing_topic(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ("TRADAI_ALERTS_TOPIC_ARN", "TRADAI_TOPIC_ALERTS",
                "TRADAI_TABLE_TRADING_HEARTBEATS"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("TRADAI_ENV", "prod")
    settings = MonitorSettings()
    assert settings.table == "tradai-prod-trading-heartbeats"
    with pytest.raises(RuntimeError, match="TRADAI_ALERTS_TOPIC_ARN"):
        settings.topic()
    monkeypatch.setenv("TRADAI_TOPIC_ALERTS", "arn:aws:sns:eu-central-1:1:tradai-local-alerts")
    assert MonitorSettings().topic().endswith("tradai-local-alerts")
