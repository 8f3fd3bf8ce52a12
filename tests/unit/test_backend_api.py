# ruff: noqa: F811  (pytest fixtures imported from test_backend_fixtures)
"""The backend API in process: validation (422 with field and reason), submission (ticket
recorded before the message, group and dedup ids, duplicates), status, listing, registry
failures. AWS is moto in process; the registry is a fake."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.unit.test_backend_fixtures import (  # noqa: F401 (fixtures)
    TABLE,
    Api,
    FakeRegistry,
    api,
    aws,
    receive_all,
    registry,
)
from tradai.backtests import dedup

GOOD = {"strategy": "SmaCross", "alias": "champion", "pairs": ["BTC/USDT"], "timeframe": "5m",
        "timerange": "20240101-20240301"}


def submit(api: Api, body: dict[str, Any] | None = None, key: str | None = None) -> Any:
    headers = {"Idempotency-Key": key} if key else {}
    return api.client.post("/api/v1/backtests", json=body or GOOD, headers=headers)


def field_of(resp: Any) -> tuple[list[Any], str]:
    detail = resp.json()["detail"][0]
    return detail["loc"], detail["msg"]


def test_health(api: Api) -> None:
    assert api.client.get("/health").json() == {"status": "ok", "service": "backend-api"}


@pytest.mark.parametrize(("change", "field", "words"), [
    ({"strategy": None}, "strategy", "Field required"),
    ({"timeframe": "7m"}, "timeframe", "unknown timeframe"),
    ({"timerange": "2024-01-01"}, "timerange", "YYYYMMDD-YYYYMMDD"),
    ({"timerange": "20240301-20240101"}, "timerange", "inverted"),
    ({"timerange": "20240230-20240301"}, "timerange", "calendar date"),
    ({"pairs": ["btc-usdt"]}, "pairs", "BASE/QUOTE"),
    ({"pairs": ["BTC/USDT", "BTC/USDT"]}, "pairs", "repeat"),
    ({"pairs": [f"C{i}X/USDT" for i in range(6)]}, "pairs", "at most 5 pairs"),
    ({"version": 1}, None, "alias or version, not both"),
    ({"extra": 1}, "extra", "Extra inputs"),
    ({"strategy": "Nope"}, "strategy", "unknown strategy"),
    ({"alias": "production"}, "alias", "no alias"),
])
def test_bad_requests_name_the_field(api: Api, aws: Any, change: dict[str, Any],
                                     field: str | None, words: str) -> None:
    body = {k: v for k, v in {**GOOD, **change}.items() if v is not None}
    resp = submit(api, body)
    assert resp.status_code == 422, resp.text
    loc, msg = field_of(resp)
    if field:
        assert loc[-1] == field or field in loc
    assert words in msg
    assert receive_all(aws[1], aws[2]) == []


def test_unknown_version_names_version(api: Api) -> None:
    body = {k: v for k, v in GOOD.items() if k != "alias"} | {"version": 9}
    loc, msg = field_of(submit(api, body))
    assert loc == ["body", "version"] and "no version 9" in msg


def test_submission_records_then_queues(api: Api, aws: Any) -> None:
    ddb, sqs, url = aws
    resp = submit(api)
    assert resp.status_code == 202
    ticket = resp.json()
    assert ticket["status"] == "QUEUED" and ticket["ticket_id"] == ticket["job_id"]
    item = ddb.get_item(TableName=TABLE, Key={"job_id": {"S": ticket["job_id"]}})["Item"]
    assert item["status"]["S"] == "QUEUED" and item["owner"]["S"] == "alice"
    assert int(item["ttl"]["N"]) - int(item["submitted_epoch"]["N"]) == 30 * 86400
    [msg] = receive_all(sqs, url)
    assert msg["Attributes"]["MessageGroupId"] == "alice"
    assert msg["Attributes"]["MessageDeduplicationId"] == item["dedup_id"]["S"]
    body = json.loads(msg["Body"])
    assert body["job_id"] == ticket["job_id"] and body["version"] == 2
    assert body["pairs"] == ["BTC/USDT"] and body["alias"] == "champion"


def test_status_of_fresh_ticket_is_queued(api: Api) -> None:
    job = submit(api).json()["job_id"]
    status = api.client.get(f"/api/v1/backtests/{job}").json()
    assert status["status"] == "QUEUED" and status["progress"] == 0
    assert status["result"] is None and status["request"]["version"] == 2


def test_left_out_fields_come_from_version_tags(api: Api, aws: Any) -> None:
    job = submit(api, {"strategy": "RsiMeanRevert"}).json()["job_id"]
    req = api.client.get(f"/api/v1/backtests/{job}").json()["request"]
    assert req["pairs"] == ["BTC/USDT", "ETH/USDT"] and req["timeframe"] == "5m"
    assert req["version"] == 1


def test_same_content_is_one_ticket_one_message(api: Api, aws: Any) -> None:
    first, second = submit(api).json(), submit(api, {**GOOD, "pairs": ["BTC/USDT"]}).json()
    assert first["job_id"] == second["job_id"] and second["duplicate"] is True
    assert len(receive_all(aws[1], aws[2])) == 1


def test_other_owner_same_content_is_another_ticket(api: Api) -> None:
    first = submit(api).json()
    api.as_owner("bob")
    assert submit(api).json()["job_id"] != first["job_id"]
    assert api.client.get(f"/api/v1/backtests/{first['job_id']}").status_code == 404


def test_idempotency_key(api: Api, aws: Any) -> None:
    a = submit(api, key="retry-1").json()
    b = submit(api, key="retry-1").json()
    c = submit(api, key="retry-2").json()
    assert a["job_id"] == b["job_id"] != c["job_id"]
    assert len(receive_all(aws[1], aws[2])) == 2
    reused = submit(api, {**GOOD, "timeframe": "1h"}, key="retry-1")
    assert reused.status_code == 422
    assert field_of(reused) == (["header", "Idempotency-Key"],
                                "already used for a different request; use a new key")


def test_a_new_idempotency_key_costs_no_read(api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    from tradai.backtests.store import TicketStore
    reads: list[str] = []
    real_get = TicketStore.get
    monkeypatch.setattr(TicketStore, "get", lambda self, j: reads.append(j) or real_get(self, j))
    first = submit(api, key="fresh-1")
    assert first.status_code == 202 and reads == []  # the conditional create is the check
    again = submit(api, key="fresh-1").json()
    assert again["job_id"] == first.json()["job_id"] and again["duplicate"] is True


@pytest.mark.parametrize("registry_now", ["down", "strategy gone"])
def test_a_retry_gets_its_ticket_whatever_the_registry_says_now(
        api: Api, aws: Any, registry: FakeRegistry, monkeypatch: pytest.MonkeyPatch,
        registry_now: str) -> None:
    job = submit(api, key="k-1").json()["job_id"]
    if registry_now == "down":
        def boom(*a: Any) -> Any:
            raise ConnectionError("mlflow down")
        monkeypatch.setattr(registry, "get_model_version", boom)
    else:
        registry.versions.pop("SmaCross")
    retry = submit(api, key="k-1")
    assert retry.status_code == 202 and retry.json()["job_id"] == job
    assert retry.json()["duplicate"] is True
    assert len(receive_all(aws[1], aws[2])) == 1
    fresh = submit(api, key="k-2")  # a new key is judged by the registry as it is now
    assert fresh.status_code == (503 if registry_now == "down" else 422)


def test_bad_idempotency_key(api: Api) -> None:
    resp = submit(api, key="x" * 300)
    assert resp.status_code == 422 and field_of(resp)[0] == ["header", "Idempotency-Key"]


def test_content_window_slides(api: Api, aws: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    now = [1_000_000 * 300 + 290.0]

    class Clock:
        def now(self) -> float:
            return now[0]

        def now_datetime(self) -> Any:
            from datetime import UTC, datetime
            return datetime.fromtimestamp(now[0], tz=UTC)
    monkeypatch.setattr("tradai.services.backend_api.dependencies.default_clock", Clock)
    first = submit(api).json()["job_id"]
    now[0] += 20  # next 5-minute slice, 20 s later: still the same request
    assert submit(api).json()["job_id"] == first
    now[0] += dedup.DEDUP_WINDOW_SECONDS  # 320 s after the first: a new backtest
    assert submit(api).json()["job_id"] != first
    assert len(receive_all(aws[1], aws[2])) == 2


def test_unqueued_ticket_is_finished_by_the_retry(api: Api, aws: Any,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    from tradai.backtests.service import BacktestService
    monkeypatch.setattr(BacktestService, "_enqueue", lambda *a: None)  # "crash" before send
    sqs, url = aws[1], aws[2]
    job = submit(api, key="k").json()["job_id"]
    assert receive_all(sqs, url) == []
    monkeypatch.undo()
    again = submit(api, key="k").json()
    assert again["job_id"] == job and again["duplicate"]
    [msg] = receive_all(sqs, url)
    assert json.loads(msg["Body"])["job_id"] == job


def test_a_retry_of_a_waiting_ticket_sends_again_and_sqs_keeps_one_copy(
        api: Api, aws: Any) -> None:
    """The ticket does not record that its message went out (no write after the send), so a
    retry of a QUEUED ticket sends again; with the same deduplication id, SQS drops the copy
    within its 5-minute interval. https://docs.aws.amazon.com/AWSSimpleQueueService/latest/
    SQSDeveloperGuide/using-messagededuplicationid-property.html"""
    sqs, url = aws[1], aws[2]
    sent: list[str] = []
    from tradai.backtests.queue import BacktestQueue
    send = BacktestQueue.send

    def counted(self: Any, body: dict[str, Any], group_id: str, dedup_id: str) -> str:
        sent.append(dedup_id)
        return send(self, body, group_id, dedup_id)
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(BacktestQueue, "send", counted)
        job = submit(api, key="k").json()["job_id"]
        assert submit(api, key="k").json()["job_id"] == job
    assert len(sent) == 2 and sent[0] == sent[1]
    [msg] = receive_all(sqs, url)
    assert json.loads(msg["Body"])["job_id"] == job


def test_queue_down_gives_503_and_no_ticket(api: Api, aws: Any,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    from tradai.backtests.errors import DependencyUnavailable
    from tradai.backtests.queue import BacktestQueue

    def down(*a: Any, **k: Any) -> str:
        raise DependencyUnavailable("backtest queue unavailable: EndpointConnectionError")
    monkeypatch.setattr(BacktestQueue, "send", down)
    resp = submit(api)
    assert resp.status_code == 503 and "queue unavailable" in resp.json()["detail"]
    assert aws[0].scan(TableName=TABLE)["Count"] == 0  # taken back: nothing waits forever


def test_queue_down_on_a_retry_keeps_the_accepted_ticket(api: Api, aws: Any,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """The retry's send fails, but the first attempt's message is in the queue: the ticket it
    was answered with stays, and the retry is told to try again."""
    from tradai.backtests.errors import DependencyUnavailable
    from tradai.backtests.queue import BacktestQueue

    job = submit(api, key="k").json()["job_id"]

    def down(*a: Any, **k: Any) -> str:
        raise DependencyUnavailable("backtest queue unavailable: EndpointConnectionError")
    monkeypatch.setattr(BacktestQueue, "send", down)
    assert submit(api, key="k").status_code == 503
    monkeypatch.undo()
    item = aws[0].get_item(TableName=TABLE, Key={"job_id": {"S": job}})["Item"]
    assert item["status"] == {"S": "QUEUED"}
    [msg] = receive_all(aws[1], aws[2])
    assert json.loads(msg["Body"])["job_id"] == job


def test_registry_failure_is_503(api: Api, registry: FakeRegistry,
                                 monkeypatch: pytest.MonkeyPatch) -> None:
    def boom(*a: Any) -> Any:
        raise ConnectionError("mlflow down")
    monkeypatch.setattr(registry, "get_model_version", boom)
    monkeypatch.setattr(registry, "list_strategies", boom)
    resp = submit(api)
    assert resp.status_code == 503 and "registry unavailable" in resp.json()["detail"]
    assert api.client.get("/api/v1/strategies").status_code == 503


def test_a_503_tells_the_user_a_short_reason_and_when_to_retry_and_logs_the_cause(
        api: Api, registry: FakeRegistry, monkeypatch: pytest.MonkeyPatch,
        caplog: pytest.LogCaptureFixture) -> None:
    inside = ("MLflow at http://127.0.0.1:36701 failed: API request to http://127.0.0.1:36701/"
              "api/2.0/mlflow/registered-models/search failed: HTTPConnectionPool(...) Max "
              "retries exceeded")

    def boom(*a: Any) -> Any:
        raise ConnectionError(inside)
    monkeypatch.setattr(registry, "get_model_version", boom)
    monkeypatch.setattr(registry, "list_strategies", boom)
    with caplog.at_level("WARNING", logger="tradai.backend_api"):
        for resp in (submit(api), api.client.get("/api/v1/strategies")):
            assert resp.status_code == 503
            assert resp.json() == {"detail": "strategy registry unavailable"}
            assert resp.headers["Retry-After"] == "30"
    assert sum(inside in r.getMessage() for r in caplog.records) == 2  # the cause is logged


def test_status_of_completed_and_failed(api: Api, aws: Any) -> None:
    job = submit(api).json()["job_id"]
    aws[0].update_item(TableName=TABLE, Key={"job_id": {"S": job}},
                       UpdateExpression="SET #s = :s, #r = :r, mlflow_url = :u",
                       ExpressionAttributeNames={"#s": "status", "#r": "result"},
                       ExpressionAttributeValues={":s": {"S": "COMPLETED"}, ":u": {"S": "http://m"},
                                                  ":r": {"M": {"total_trades": {"N": "12"},
                                                               "profit_total": {"N": "0.05"},
                                                               "max_drawdown": {"N": "0.1"},
                                                               "win_rate": {"N": "0.5"}}}})
    done = api.client.get(f"/api/v1/backtests/{job}").json()
    assert done["status"] == "COMPLETED" and done["progress"] == 100
    assert done["result"]["total_trades"] == 12 and done["mlflow_url"] == "http://m"
    aws[0].update_item(TableName=TABLE, Key={"job_id": {"S": job}},
                       UpdateExpression="SET #s = :s, #e = :e",
                       ExpressionAttributeNames={"#s": "status", "#e": "error"},
                       ExpressionAttributeValues={":s": {"S": "FAILED"},
                                                  ":e": {"S": "strategy crashed"}})
    failed = api.client.get(f"/api/v1/backtests/{job}").json()
    assert failed["error"] == "strategy crashed" and failed["result"] is None


def test_list_own_backtests_newest_first_with_cursor(api: Api) -> None:
    jobs = [submit(api, {**GOOD, "timerange": f"2024010{i}-20240301"}).json()["job_id"]
            for i in range(1, 4)]
    api.as_owner("bob")
    submit(api)
    api.as_owner("alice")
    page = api.client.get("/api/v1/backtests", params={"limit": 2}).json()
    assert len(page["backtests"]) == 2 and page["next_cursor"]
    rest = api.client.get("/api/v1/backtests", params={"cursor": page["next_cursor"]}).json()
    seen = [b["job_id"] for b in page["backtests"] + rest["backtests"]]
    assert sorted(seen) == sorted(jobs)
    api.as_owner("bob")
    stolen = api.client.get("/api/v1/backtests", params={"cursor": page["next_cursor"]})
    assert stolen.status_code == 422


def test_strategies(api: Api) -> None:
    names = [s["name"] for s in api.client.get("/api/v1/strategies").json()["strategies"]]
    assert names == ["RsiMeanRevert", "SmaCross"]
    detail = api.client.get("/api/v1/strategies/SmaCross").json()
    assert detail["aliases"] == {"champion": 2} and len(detail["versions"]) == 2
    assert api.client.get("/api/v1/strategies/Nope").status_code == 404


def test_data_freshness_without_data_service_is_503(api: Api) -> None:
    resp = api.client.get("/api/v1/data/freshness")
    assert resp.status_code == 503 and "TRADAI_DATA_COLLECTION_URL" in resp.json()["detail"]


def test_no_token_is_401_on_every_route(aws: Any) -> None:
    from fastapi.testclient import TestClient

    from tradai.services.backend_api.auth import TokenVerifier
    from tradai.services.backend_api.dependencies import get_verifier
    from tradai.services.backend_api.main import create_app
    app = create_app()
    app.dependency_overrides[get_verifier] = lambda: TokenVerifier("iss", "c", None)  # type: ignore[arg-type]
    client = TestClient(app)
    for method, path in [("GET", "/api/v1/strategies"), ("GET", "/api/v1/backtests/x"),
                         ("POST", "/api/v1/backtests"), ("GET", "/api/v1/data/freshness")]:
        resp = client.request(method, path, json=GOOD)
        assert resp.status_code == 401 and "no token" in resp.json()["detail"]
        assert resp.headers["www-authenticate"].startswith("Bearer")


def test_a_refused_send_takes_back_only_a_ticket_nobody_started(api: Api, aws: Any) -> None:
    """A retry's message may have got through while this attempt's send was refused: once
    the consumer registered the job (RUNNING, an execution), the ticket stays."""
    from tradai.backtests.store import TicketStore
    ddb = aws[0]
    waiting, started = (submit(api, body=GOOD | {"timerange": t}, key=t).json()["job_id"]
                        for t in ("20240101-20240201", "20240102-20240202"))
    ddb.update_item(TableName=TABLE, Key={"job_id": {"S": started}},
                    UpdateExpression="SET #s = :r, execution_arn = :a",
                    ExpressionAttributeNames={"#s": "status"},
                    ExpressionAttributeValues={":r": {"S": "RUNNING"}, ":a": {"S": "arn:x"}})
    store = TicketStore(ddb, TABLE)
    store.delete_unqueued(waiting)
    store.delete_unqueued(started)
    assert "Item" not in ddb.get_item(TableName=TABLE, Key={"job_id": {"S": waiting}})
    assert ddb.get_item(TableName=TABLE, Key={"job_id": {"S": started}})["Item"]["status"] == {
        "S": "RUNNING"}
