"""The edge through the gateway, as a user: auth matrix, rate limit, validation, submission
onto the FIFO queue (group and dedup ids), fresh tickets readable, duplicates, strategies
from MLflow, data freshness, and ALB failover between two backend tasks."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from tests.integration.cloud import RunningCloud, free_port, wait_for
from tradai.registry.credentials import READER_USERNAME, USERS_SECRET
from tradai.topology import default_topology

pytestmark = pytest.mark.integration
DEV_USER_GROUPS = tuple(default_topology().edge.dev_user_roles)
GOOD = {"pairs": ["BTC/USDT"], "timeframe": "5m", "timerange": "20240101-20240301"}
SEED_WAIT = 240  # wall s, as the other seed waits: MLflow's first start took 100 s at load 10


class Edge:
    def __init__(self, cloud: RunningCloud) -> None:
        status = cloud.status()
        self.cloud = cloud
        self.gateway = status["resources"]["endpoints"]["gateway"]
        self.alb = status["resources"]["endpoints"]["alb"]
        self.cognito = status["resources"]["cognito"]
        self.idp = cloud.client("cognito-idp")

    def user(self, pool: str | None = None, client: str | None = None,
             groups: tuple[str, ...] | None = None) -> dict[str, str]:
        """A new user (so each test has its own rate-limit quota) in these Cognito groups (by
        default the default dev user's: researcher and trader); its tokens."""
        if groups is None:
            groups = DEV_USER_GROUPS if pool is None else ()
        pool, client = pool or self.cognito["user_pool_id"], client or self.cognito["client_id"]
        email, password = f"u-{uuid.uuid4().hex[:10]}@tradai.test", "Passw0rd!Passw0rd"
        self.idp.admin_create_user(UserPoolId=pool, Username=email, MessageAction="SUPPRESS")
        for group in groups:
            self.idp.admin_add_user_to_group(UserPoolId=pool, Username=email, GroupName=group)
        self.idp.admin_set_user_password(UserPoolId=pool, Username=email, Password=password,
                                         Permanent=True)
        auth = self.idp.admin_initiate_auth(
            UserPoolId=pool, ClientId=client, AuthFlow="ADMIN_USER_PASSWORD_AUTH",
            AuthParameters={"USERNAME": email, "PASSWORD": password})["AuthenticationResult"]
        return {"access": auth["AccessToken"], "id": auth["IdToken"]}

    def get(self, path: str, token: str | None, **kw: Any) -> httpx.Response:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return httpx.get(self.gateway + path, headers=headers, timeout=30, **kw)

    def post(self, path: str, token: str, body: Any, key: str | None = None) -> httpx.Response:
        headers = {"Authorization": f"Bearer {token}"}
        if key:
            headers["Idempotency-Key"] = key
        return httpx.post(self.gateway + path, headers=headers, json=body, timeout=30)

    def healthy(self, service: str) -> list[dict[str, Any]]:
        targets = httpx.get(f"{self.alb}/_alb/targets", timeout=5).json()[service]
        return [t for t in targets if t["state"] == "healthy"]

    def strategy(self, token: str) -> str:
        """A registered strategy name (the MLflow service seeds examples); skip without."""
        if "mlflow" in self.cloud.status()["resources"]["not_implemented"]["services"]:
            pytest.skip("the MLflow service is not in this build")
        try:
            found = wait_for(lambda: (r := self.get("/api/v1/strategies", token)).status_code
                             == 200 and r.json()["strategies"], timeout=SEED_WAIT, interval=1)
        except AssertionError:
            pytest.fail(f"MLflow registry has no strategies after {SEED_WAIT} s: the seeding "
                        "of the example strategies failed (see the seed part of `status`)")
        return str(found[0]["name"])


@pytest.fixture(scope="module")
def edge(cloud: RunningCloud) -> Edge:
    e = Edge(cloud)
    wait_for(lambda: e.healthy("backend-api"), timeout=60)
    return e


@pytest.fixture
def tokens(edge: Edge) -> dict[str, str]:
    return edge.user()


# -- auth matrix ---------------------------------------------------------------------------
def test_valid_access_and_id_tokens_pass(edge: Edge, tokens: dict[str, str]) -> None:
    assert edge.get("/api/v1/backtests", tokens["access"]).status_code == 200
    assert edge.get("/api/v1/backtests", tokens["id"]).status_code == 200


def _foreign_token(edge: Edge, kid: str) -> str:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    claims = jwt.decode(edge.user()["access"], options={"verify_signature": False})
    return jwt.encode(claims, key, algorithm="RS256", headers={"kid": kid})


@pytest.mark.parametrize("path", ["/api/v1/strategies", "/api/v1/backtests", "/elsewhere"])
def test_no_token_is_401(edge: Edge, path: str) -> None:
    """(``/mlflow`` takes MLflow's basic login instead: test_mlflow_through_the_gateway.)"""
    resp = edge.get(path, None)
    assert resp.status_code == 401 and "no token" in resp.json()["reason"]
    assert resp.headers["www-authenticate"].startswith("Bearer")


def test_bad_tokens_are_401_with_reason(edge: Edge) -> None:
    idp = edge.idp
    other_pool = idp.create_user_pool(PoolName=f"other-{uuid.uuid4().hex[:6]}")["UserPool"]["Id"]
    other_client = idp.create_user_pool_client(
        UserPoolId=other_pool, ClientName="other",
        ExplicitAuthFlows=["ALLOW_ADMIN_USER_PASSWORD_AUTH"])["UserPoolClient"]["ClientId"]
    same_pool_other_client = idp.create_user_pool_client(
        UserPoolId=edge.cognito["user_pool_id"], ClientName=f"c-{uuid.uuid4().hex[:6]}",
        ExplicitAuthFlows=["ALLOW_ADMIN_USER_PASSWORD_AUTH"])["UserPoolClient"]["ClientId"]
    cases = {
        "garbage": ("not-a-jwt", "malformed"),
        "another key, same kid": (_foreign_token(edge, "dummy"), "signature does not verify"),
        "another key, its own kid": (_foreign_token(edge, "rogue"), "key this user pool"),
        "another user pool": (edge.user(other_pool, other_client)["access"],
                              "another user pool"),
        "another app client": (edge.user(client=same_pool_other_client)["access"],
                               "another app client"),
    }
    for name, (token, reason) in cases.items():
        resp = edge.get("/api/v1/backtests", token)
        assert resp.status_code == 401, name
        assert reason in resp.json()["reason"], (name, resp.text)


def test_unknown_route_is_404_after_auth(edge: Edge, tokens: dict[str, str]) -> None:
    assert edge.get("/admin", tokens["access"]).status_code == 404


# -- rate limit: a second gateway process with a low limit, on the same ALB -----------------
@pytest.fixture
def strict_gateway(edge: Edge, tmp_path: Path) -> Iterator[str]:
    cfg = json.loads((edge.cloud.state_dir / "edge" / "gateway.json").read_text())
    cfg.update(port=free_port(), rate_limit_requests=3, rate_limit_seconds=300)
    path = tmp_path / "gateway.json"
    path.write_text(json.dumps(cfg))
    proc = subprocess.Popen([sys.executable, "-m", "tradai_sim.edge.gateway", "--config",
                             str(path)], start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            env={**os.environ, "TRADAI_TIME_SCALE": "20"})
    url = f"http://127.0.0.1:{cfg['port']}"
    try:
        wait_for(lambda: _answers(url), timeout=20)
        yield url
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


def _answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=1).status_code == 401
    except httpx.HTTPError:
        return False


def test_rate_limit_429_with_retry_after(edge: Edge, strict_gateway: str) -> None:
    a, b = edge.user()["access"], edge.user()["access"]
    codes = [httpx.get(f"{strict_gateway}/api/v1/backtests", timeout=30,
                       headers={"Authorization": f"Bearer {a}"}) for _ in range(4)]
    assert [r.status_code for r in codes] == [200, 200, 200, 429]
    # 300 simulated seconds at time scale 20 are 15 wall seconds
    assert 1 <= int(codes[-1].headers["retry-after"]) <= 15
    assert "more than 3 requests" in codes[-1].json()["reason"]
    other = httpx.get(f"{strict_gateway}/api/v1/backtests", timeout=30,
                      headers={"Authorization": f"Bearer {b}"})
    assert other.status_code == 200  # per client


# -- submission ---------------------------------------------------------------------------
@contextlib.contextmanager
def consumer_paused(cloud: RunningCloud) -> Iterator[None]:
    """Hold the backtest consumer's event-source mapping (if it exists) so the test reads the
    queue itself."""
    lam = cloud.client("lambda")
    arn = cloud.status()["resources"]["queues"]["arns"]["backtest-queue.fifo"]
    mappings = [m["UUID"] for m in lam.list_event_source_mappings()["EventSourceMappings"]
                if m["EventSourceArn"] == arn]
    for m in mappings:
        lam.update_event_source_mapping(UUID=m, Enabled=False)
    try:
        time.sleep(1.5 if mappings else 0)  # the poller notices within its refresh
        yield
    finally:
        for m in mappings:
            lam.update_event_source_mapping(UUID=m, Enabled=True)


def drain(cloud: RunningCloud) -> list[dict[str, Any]]:
    sqs = cloud.client("sqs")
    url = cloud.status()["resources"]["queues"]["urls"]["backtest-queue.fifo"]
    out = []
    while msgs := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1,
                                      AttributeNames=["All"]).get("Messages", []):
        out.extend(msgs)
        for m in msgs:
            sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
    return out


def test_validation_errors_are_422_with_field(edge: Edge, tokens: dict[str, str]) -> None:
    name = edge.strategy(tokens["access"])
    cases = [({"strategy": "NoSuchStrategy"}, "strategy", "unknown strategy"),
             ({"strategy": name, "timerange": "20240301-20240101"}, "timerange", "inverted"),
             ({"strategy": name, "pairs": [f"C{i}X/USDT" for i in range(30)]}, "pairs",
              "at most"),
             ({"strategy": name, "alias": "no-such-alias"}, "alias", "no-such-alias"),
             ({"pairs": ["BTC/USDT"]}, "strategy", "Field required")]
    for body, field, words in cases:
        resp = edge.post("/api/v1/backtests", tokens["access"], body)
        assert resp.status_code == 422, resp.text
        detail = resp.json()["detail"][0]
        assert detail["loc"][-1] == field and words in detail["msg"], detail


def test_submit_queues_one_message_and_ticket_is_readable(edge: Edge,
                                                          tokens: dict[str, str]) -> None:
    name = edge.strategy(tokens["access"])
    sub = jwt.decode(tokens["access"], options={"verify_signature": False})["sub"]
    body = {"strategy": name, **GOOD}
    with consumer_paused(edge.cloud):
        drain(edge.cloud)
        t0 = time.perf_counter()
        first = edge.post("/api/v1/backtests", tokens["access"], body)
        elapsed = time.perf_counter() - t0
        assert first.status_code == 202, first.text
        ticket = first.json()
        assert ticket["status"] == "QUEUED" and ticket["ticket_id"] == ticket["job_id"]
        fresh = edge.get(f"/api/v1/backtests/{ticket['job_id']}", tokens["access"])
        assert fresh.status_code == 200 and fresh.json()["status"] == "QUEUED"
        again = edge.post("/api/v1/backtests", tokens["access"], body).json()
        assert again["job_id"] == ticket["job_id"] and again["duplicate"]
        keyed = [edge.post("/api/v1/backtests", tokens["access"],
                           {**body, "timerange": "20240102-20240301"}, key="k-1").json()
                 for _ in range(2)]
        assert keyed[0]["job_id"] == keyed[1]["job_id"] != ticket["job_id"]
        messages = drain(edge.cloud)
    by_job = {json.loads(m["Body"])["job_id"]: m for m in messages}
    assert sorted(by_job) == sorted({ticket["job_id"], keyed[0]["job_id"]})
    assert len(messages) == 2  # two tickets, one message each
    msg = by_job[ticket["job_id"]]
    assert msg["Attributes"]["MessageGroupId"] == sub
    item = edge.cloud.client("dynamodb").get_item(
        TableName=edge.cloud.name("workflow-state"),
        Key={"job_id": {"S": ticket["job_id"]}})["Item"]
    assert msg["Attributes"]["MessageDeduplicationId"] == item["dedup_id"]["S"]
    assert item["owner"]["S"] == sub
    assert json.loads(msg["Body"])["strategy"] == name
    assert elapsed < 2.0  # generous bound for a busy CI box; the benchmark measures p50/p99


def test_other_users_do_not_see_my_ticket(edge: Edge, tokens: dict[str, str]) -> None:
    name = edge.strategy(tokens["access"])
    job = edge.post("/api/v1/backtests", tokens["access"],
                    {"strategy": name, **GOOD, "timerange": "20240105-20240301"}).json()["job_id"]
    other = edge.user()["access"]
    assert edge.get(f"/api/v1/backtests/{job}", other).status_code == 404
    mine = edge.get("/api/v1/backtests", tokens["access"]).json()["backtests"]
    assert job in [b["job_id"] for b in mine]
    assert edge.get("/api/v1/backtests", other).json()["backtests"] == []


def test_strategies_listed_from_mlflow(edge: Edge, tokens: dict[str, str]) -> None:
    name = edge.strategy(tokens["access"])
    detail = edge.get(f"/api/v1/strategies/{name}", tokens["access"])
    assert detail.status_code == 200 and detail.json()["versions"]
    assert edge.get("/api/v1/strategies/NoSuchStrategy", tokens["access"]).status_code == 404


def test_mlflow_through_the_gateway(edge: Edge, tokens: dict[str, str]) -> None:
    """MLflow's route takes an MLflow login (basic auth), not the JWT: as the deployed API."""
    edge.strategy(tokens["access"])  # MLflow is up
    users = json.loads(edge.cloud.client("secretsmanager").get_secret_value(
        SecretId=edge.cloud.name(USERS_SECRET))["SecretString"])["users"]
    resp = httpx.get(f"{edge.gateway}/mlflow/api/2.0/mlflow/registered-models/search",
                     auth=(READER_USERNAME, users[READER_USERNAME]), timeout=30)
    assert resp.status_code == 200 and resp.json()["registered_models"], resp.text
    page = httpx.get(f"{edge.gateway}/mlflow/", timeout=30)  # a browser, before its login
    assert page.status_code == 401 and page.headers["www-authenticate"].startswith("Basic")


def test_data_freshness_answers_through_the_gateway(edge: Edge, tokens: dict[str, str]) -> None:
    """The data collection service runs in the stack: the report itself, not a 503 (the 503
    "data collection ... unavailable" path has its own unit test in test_backend_api.py)."""
    resp = wait_for(lambda: (r := edge.get("/api/v1/data/freshness", tokens["access"]))
                    .status_code == 200 and r, timeout=90, interval=1)
    report = resp.json()
    assert report["exchange"] and isinstance(report["series"], list), report
    assert report["now"], report


# -- ALB failover -----------------------------------------------------------------------------
def test_alb_moves_traffic_off_a_dead_backend_task(edge: Edge, tokens: dict[str, str]) -> None:
    cloud, ecs = edge.cloud, edge.cloud.client("ecs")
    cluster, service = cloud.name("strategies"), cloud.name("backend-api")
    ecs.update_service(cluster=cluster, service=service, desiredCount=2)
    try:
        two = wait_for(lambda: len(h := edge.healthy("backend-api")) >= 2 and h, timeout=60)
        tasks = {t["short_id"]: t for t in cloud.control("/ecs/tasks")["tasks"]}
        victim = tasks[two[0]["task_id"][:12]]
        os.killpg(victim["pid"], signal.SIGKILL)
        codes = [edge.get("/api/v1/backtests", tokens["access"]).status_code
                 for _ in range(20)]
        assert codes == [200] * 20
        assert victim["short_id"] not in [t["task_id"][:12] for t in edge.healthy("backend-api")]
    finally:
        ecs.update_service(cluster=cluster, service=service, desiredCount=1)
