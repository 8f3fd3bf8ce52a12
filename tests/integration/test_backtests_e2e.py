"""Backtests end to end, as a user through the gateway: queue -> consumer -> Step Functions
-> strategy container (Freqtrade) -> results; and the "nothing lost" rules: invalid versions
and crashing strategies end FAILED with a reason and no task left, duplicates run once, a
burst never runs more strategy tasks than allowed. Ranges are tiny (1 pair, 7 days)."""

from __future__ import annotations

import contextlib
import json
import os
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.integration.cloud import RunningCloud, wait_for
from tests.integration.test_edge_gateway import Edge

pytestmark = pytest.mark.integration
STRATEGY = "EmaCrossover"
SMALL = {"strategy": STRATEGY, "alias": "champion", "pairs": ["BTC/USDT"], "timeframe": "5m",
         "timerange": "20240110-20240117"}
TERMINAL = ("COMPLETED", "FAILED")
RUN_TIMEOUT = 300  # wall seconds for one job on a loaded 2-core machine


@pytest.fixture(scope="module")
def edge(cloud: RunningCloud) -> Edge:
    status = cloud.status()
    if "strategy" in status["resources"]["not_implemented"]["task_definitions"]:
        pytest.skip("the strategy container (tradai.strategy_container) is not in this build")
    e = Edge(cloud)
    wait_for(lambda: e.healthy("backend-api"), timeout=60)
    wait_for(lambda: cloud.status()["parts"]["seed"]["state"] == "done", timeout=240,
             interval=1)
    return e


@pytest.fixture(scope="module")
def token(edge: Edge) -> str:
    return edge.user()["access"]


def submit(edge: Edge, token: str, body: dict[str, Any], key: str | None = None) -> str:
    resp = edge.post("/api/v1/backtests", token, body, key=key or uuid.uuid4().hex)
    assert resp.status_code in (200, 201, 202), resp.text
    return str(resp.json()["ticket_id"])


def status_of(edge: Edge, token: str, job_id: str) -> dict[str, Any]:
    resp = edge.get(f"/api/v1/backtests/{job_id}", token)
    assert resp.status_code == 200, resp.text
    return dict(resp.json())


def wait_terminal(edge: Edge, token: str, job_id: str, timeout: float = RUN_TIMEOUT,
                  seen: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    def done() -> dict[str, Any] | None:
        body = status_of(edge, token, job_id)
        if seen is not None:
            seen.append(body)
        return body if body["status"] in TERMINAL else None

    return dict(wait_for(done, timeout=timeout, interval=1))


def job_tasks(cloud: RunningCloud, job_id: str) -> list[dict[str, Any]]:
    return [t for t in cloud.control("/ecs/tasks")["tasks"]
            if t["group"] == f"backtest:{job_id}"]


def executions(cloud: RunningCloud, name: str) -> list[dict[str, Any]]:
    sfn = cloud.client("stepfunctions")
    machine = cloud.status()["resources"]["state_machines"]["backtest-workflow"]
    return [e for e in sfn.list_executions(stateMachineArn=machine)["executions"]
            if e["name"] == name]


# -- the happy path -------------------------------------------------------------------------
def test_example_backtest_completes_with_the_metrics_of_freqtrade_run_directly(
        edge: Edge, token: str, cloud: RunningCloud, tmp_path: Path) -> None:
    """Through the gateway, the queue, the consumer, Step Functions (EnsureData fetching the
    candles into ArcticDB) and the strategy task: the result equals Freqtrade's own
    backtesting on the candles the job used, with the same config layers. Its status says
    where the time went: every stage, none negative, adding up to the job's total, which is
    within what the client waited."""
    from tests.integration.test_container_backtest import freqtrade_directly
    from tradai.backtests.results import headline
    from tradai.backtests.stages import STAGES
    from tradai.data.settings import DataSettings
    from tradai.data.store import OhlcvStore

    waited_from = time.monotonic()
    job_id = submit(edge, token, SMALL)
    seen: list[dict[str, Any]] = []
    final = wait_terminal(edge, token, job_id, seen=seen)
    waited = time.monotonic() - waited_from
    assert final["status"] == "COMPLETED", final.get("error")
    assert final["progress"] == 100
    result = final["result"]
    assert result["total_trades"] > 0, result  # a backtest that traded, so the match means much
    resources = cloud.status()["resources"]
    store = OhlcvStore.from_settings(DataSettings(
        AWS_ENDPOINT_URL=cloud.endpoint, AWS_DEFAULT_REGION=cloud.region,
        AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing",
        TRADAI_BUCKET_ARCTICDB=cloud.name("arcticdb")))  # type: ignore[call-arg]
    direct = freqtrade_directly(store, resources["endpoints"]["exchange"],
                                resources["endpoints"]["egress"], tmp_path, STRATEGY,
                                SMALL["pairs"], SMALL["timerange"])
    # DynamoDB keeps the floats' exact decimal text: equal, not close
    assert result == headline(direct)
    assert final["mlflow_url"], final
    assert {"RUNNING"} <= {s["status"] for s in seen}
    assert all(t["last_status"] == "STOPPED" for t in job_tasks(cloud, job_id))
    timings = final["timings"]  # platform-clock seconds: the local clock runs time_scale fast
    names = [stage for stage, _, _ in STAGES]
    assert list(timings) == [*names, "total"], timings
    assert all(seconds >= 0 for seconds in timings.values()), timings
    # each stage is stored to the millisecond, so the sum may differ by rounding only
    assert sum(timings[n] for n in names) == pytest.approx(timings["total"], abs=0.01)
    assert timings["total"] / cloud.time_scale <= waited, (timings, waited)


def test_hyperopt_with_a_few_epochs_completes(edge: Edge, token: str,
                                             cloud: RunningCloud) -> None:
    """The platform's one hyperopt run (the strategy container's tests leave it to this one):
    the mode reaches the task, the result holds the best parameters of the epochs asked for,
    and the results bucket and MLflow have them."""
    job_id = submit(edge, token, {**SMALL, "mode": "hyperopt", "epochs": 3})
    final = wait_terminal(edge, token, job_id)
    assert final["status"] == "COMPLETED", final.get("error")
    assert final["request"]["mode"] == "hyperopt"
    result = final["result"]
    assert result["epochs"] == 3 and result["best_params"], result
    assert result["total_trades"] >= 1, result
    best = json.loads(cloud.client("s3").get_object(
        Bucket=cloud.name("results"), Key=f"backtests/{job_id}/hyperopt_best.json")[
        "Body"].read())
    assert best["epochs"] == 3 and best["params_dict"], best
    with _mlflow_login(cloud):
        from mlflow.tracking import MlflowClient

        client = MlflowClient(_mlflow_url(cloud))
        exp = client.get_experiment_by_name(f"backtests-{STRATEGY}")
        assert exp is not None, "no experiment for the strategy"
        runs = client.search_runs([exp.experiment_id], f"tags.job_id = '{job_id}'")
    assert len(runs) == 1, runs
    assert runs[0].data.tags["mode"] == "hyperopt" and "loss" in runs[0].data.metrics


# -- failures end FAILED with a reason ------------------------------------------------------
def _queue_url(cloud: RunningCloud) -> str:
    return str(cloud.status()["resources"]["queues"]["urls"]["backtest-queue.fifo"])


def _queue_depth(cloud: RunningCloud) -> int:
    attrs = cloud.client("sqs").get_queue_attributes(QueueUrl=_queue_url(cloud), AttributeNames=[
        "ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible",
        "ApproximateNumberOfMessagesDelayed"])["Attributes"]
    return sum(int(v) for v in attrs.values())


def _item(cloud: RunningCloud, job_id: str) -> dict[str, Any] | None:
    from tradai.backtests.store import from_item

    item = cloud.client("dynamodb").get_item(
        TableName=cloud.name("workflow-state"), Key={"job_id": {"S": job_id}},
        ConsistentRead=True).get("Item")
    return from_item(item) if item else None


def test_an_invalid_version_ends_failed_at_validation(edge: Edge, cloud: RunningCloud) -> None:
    # The backend refuses unknown versions (422), so this job arrives as through a direct
    # queue integration: only the workflow's validation can stop it.
    job_id = str(uuid.uuid4())
    body = {"job_id": job_id, "ticket_id": job_id, "owner": "direct", "strategy": STRATEGY,
            "version": 999, "pairs": ["BTC/USDT"], "timeframe": "5m",
            "timerange": "20240110-20240117"}
    cloud.client("sqs").send_message(QueueUrl=_queue_url(cloud), MessageBody=json.dumps(body),
                                     MessageGroupId="direct", MessageDeduplicationId=job_id)
    item = wait_for(lambda: (i := _item(cloud, job_id)) and i.get("status") in TERMINAL and i,
                    timeout=120, interval=1)
    assert item["status"] == "FAILED"
    assert item["error"].startswith("strategy validation failed:")
    assert "no version 999" in item["error"]
    assert job_tasks(cloud, job_id) == []  # it never reached RunBacktest


CRASHING = '''
from freqtrade.strategy import IStrategy


class CrashMidRun(IStrategy):
    timeframe = "5m"
    minimal_roi = {"0": 0.1}
    stoploss = -0.1
    startup_candle_count = 10

    def populate_indicators(self, dataframe, metadata):
        raise RuntimeError("indicator blew up on purpose")

    def populate_entry_trend(self, dataframe, metadata):
        return dataframe

    def populate_exit_trend(self, dataframe, metadata):
        return dataframe
'''


@contextlib.contextmanager
def _mlflow_login(cloud: RunningCloud) -> Iterator[None]:
    """Log in to MLflow as the stack's tasks do (the basic-auth secret)."""
    secret = json.loads(cloud.client("secretsmanager").get_secret_value(
        SecretId=cloud.name("mlflow-basic-auth"))["SecretString"])
    saved = {k: os.environ.get(k) for k in ("MLFLOW_TRACKING_USERNAME",
                                            "MLFLOW_TRACKING_PASSWORD")}
    os.environ.update({"MLFLOW_TRACKING_USERNAME": secret["username"],
                       "MLFLOW_TRACKING_PASSWORD": secret["password"]})
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def _mlflow_url(cloud: RunningCloud) -> str:
    status = cloud.status()
    return str(status["resources"]["endpoints"].get("mlflow")
               or status["parts"]["seed"]["mlflow_url"])


def _register_crashing(cloud: RunningCloud) -> str:
    from tradai.registry.adapter import MLflowAdapter
    from tradai.registry.config_store import ConfigStore

    resources = cloud.status()["resources"]
    mlflow = _mlflow_url(cloud)
    configs = ConfigStore(cloud.client("s3"), resources["buckets"]["configs"])
    example = json.loads(
        (__import__("tradai.strategies", fromlist=["STRATEGIES_DIR"]).STRATEGIES_DIR
         / "configs" / "EmaCrossover.json").read_text())
    config = {**example, "strategy": "CrashMidRun"}
    name = f"CrashMidRun{uuid.uuid4().hex[:6]}"
    with _mlflow_login(cloud):
        MLflowAdapter(mlflow, configs).register_version(
            name, "CrashMidRun", config, source_code=CRASHING, source_filename="crash.py",
            warmup_days=1, aliases=["champion"])
    return name


def test_a_crashing_strategy_ends_failed_and_its_task_is_gone(edge: Edge, token: str,
                                                             cloud: RunningCloud) -> None:
    name = _register_crashing(cloud)
    job_id = submit(edge, token, {**SMALL, "strategy": name})
    final = wait_terminal(edge, token, job_id)
    assert final["status"] == "FAILED"
    assert final["error"].startswith("backtest container exited with code"), final["error"]
    tasks = job_tasks(cloud, job_id)
    assert tasks and all(t["last_status"] == "STOPPED" for t in tasks)


# -- duplicates and capacity ----------------------------------------------------------------
def test_the_same_submission_twice_runs_once(edge: Edge, token: str,
                                             cloud: RunningCloud) -> None:
    key = uuid.uuid4().hex
    body = {**SMALL, "timerange": "20240111-20240118"}
    first, second = submit(edge, token, body, key=key), submit(edge, token, body, key=key)
    assert first == second
    # And a redelivered message (same job, new queue message) does not start it again.
    message = {"job_id": first, "ticket_id": first, "owner": "dup", "strategy": STRATEGY,
               "version": 1, "pairs": ["BTC/USDT"], "timeframe": "5m"}
    cloud.client("sqs").send_message(QueueUrl=_queue_url(cloud), MessageBody=json.dumps(
        message), MessageGroupId="dup", MessageDeduplicationId=uuid.uuid4().hex)
    assert wait_terminal(edge, token, first)["status"] == "COMPLETED"
    # The evidence that the copy was consumed, not just time passing: its group holds nothing
    # (received, handled and deleted). Only then does "one execution" prove anything.
    wait_for(lambda: _queue_depth(cloud) == 0, timeout=120, interval=0.5)
    assert len(executions(cloud, first)) == 1
    tasks = [t for t in cloud.control("/ecs/tasks")["tasks"]
             if t["group"] == f"backtest:{first}"]
    assert len(tasks) == 1


@contextlib.contextmanager
def consumer_limit(cloud: RunningCloud, limit: int) -> Iterator[int]:
    """Lower the consumer's limit (its backtest slots) so that 2 cores can show it is kept."""
    lam = cloud.client("lambda")
    name = cloud.name("backtest-consumer")
    env = lam.get_function_configuration(FunctionName=name)["Environment"]["Variables"]
    lam.update_function_configuration(FunctionName=name, Environment={"Variables": {
        **env, "TRADAI_BACKTEST_MAX_CONCURRENT": str(limit)}})
    try:
        yield limit
    finally:
        lam.update_function_configuration(FunctionName=name, Environment={"Variables": env})


@pytest.mark.timeout(1500)  # 5 backtests two at a time: its own waits allow 1200 s
def test_many_owners_at_once_never_run_more_strategy_tasks_than_the_limit(
        edge: Edge, cloud: RunningCloud) -> None:
    """Five users submit a backtest each, all at once: their message groups are consumed
    concurrently, so consumers race for the last slot, and the jobs beyond the limit queue
    and wait their turn. ECS ListTasks, sampled throughout, never shows more RUNNING strategy
    tasks than the limit (and the exact sweep over every task's RUNNING interval agrees), and
    every job completes. (One owner's burst is one message group, consumed in order: it
    cannot race, so this test is the capacity test.)"""
    from tradai.topology import default_topology
    from tradai_sim.drills.backlog import task_peak

    # five owners racing for two slots: the race the old count lost
    limit, users, per_user = 2, 5, 1
    ecs = cloud.client("ecs")
    cluster = cloud.name(default_topology().cluster)
    family = cloud.name("strategy")
    tokens = [edge.user()["access"] for _ in range(users)]
    samples: list[int] = []
    stop = threading.Event()

    def sample() -> None:
        while not stop.is_set():
            arns = [a for page in ecs.get_paginator("list_tasks").paginate(
                cluster=cluster, family=family, desiredStatus="RUNNING")
                for a in page["taskArns"]]
            tasks = ecs.describe_tasks(cluster=cluster, tasks=arns)["tasks"] if arns else []
            samples.append(sum(1 for t in tasks if t.get("group", "").startswith("backtest:")
                               and t["lastStatus"] != "STOPPED"))
            stop.wait(0.2)

    def submit_retrying(token: str, body: dict[str, Any]) -> str:
        """A client that times out (a loaded 2-core machine) retries with the same
        Idempotency-Key: one ticket either way."""
        key = uuid.uuid4().hex
        for _ in range(5):
            with contextlib.suppress(httpx.TimeoutException):
                return submit(edge, token, body, key=key)
        raise AssertionError(f"submission {body['timerange']} timed out 5 times")

    def submit_all(token: str, user: int) -> list[str]:
        return [submit_retrying(token, {**SMALL,
                                        "timerange": f"202403{d:02d}-202403{d + 7:02d}"})
                for d in range(1 + user, 1 + user + per_user)]

    seen: dict[str, dict[str, Any]] = {}
    with consumer_limit(cloud, limit):
        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        started = time.time()
        try:
            results: dict[int, list[str]] = {}
            submitters = [threading.Thread(target=lambda u=u: results.__setitem__(
                u, submit_all(tokens[u], u))) for u in range(users)]
            for t in submitters:
                t.start()
            for t in submitters:
                t.join(timeout=900)
            assert len(results) == users, "a submitter did not finish"
            jobs = [(tokens[u], j) for u in range(users) for j in results[u]]

            def settled() -> bool:
                for task in cloud.control("/ecs/tasks")["tasks"]:  # started/stopping instants
                    if task["group"].startswith("backtest:"):
                        seen[task["task_arn"]] = task
                return all(status_of(edge, tok, j)["status"] in TERMINAL for tok, j in jobs)

            wait_for(settled, timeout=1200, interval=2)
        finally:
            stop.set()
            sampler.join()
    finals = [status_of(edge, tok, j) for tok, j in jobs]
    failed = [f.get("error") for f in finals if f["status"] != "COMPLETED"]
    assert not failed, failed
    assert len(finals) == users * per_user
    assert samples and max(samples) <= limit, max(samples)
    exact, _ = task_peak(list(seen.values()), float("inf"))  # all have stopped by now
    assert exact <= limit, exact
    assert max(samples) >= 2  # the limit, not a trickle, held them back
    print(f"{len(jobs)} backtests of {users} users in {time.time() - started:.0f} s, "
          f"{len(samples)} ListTasks samples, peak {max(samples)} sampled, {exact} exact "
          f"(limit {limit})")
