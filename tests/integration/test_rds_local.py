"""RDS locally: the stack's database is a real PostgreSQL server, MLflow's store by default.

One state dir, two stacks in turn (``up``, ``down``, ``up`` through the launcher, as
``tradai-sim`` does):
- from a fresh state dir the server is initialised under it and answers on the endpoint that
  ``DescribeDBInstances`` gives, with the master credentials of the ``mlflow-database`` secret;
- MLflow keeps its registry there (the seeded strategies are rows of ``registered_models``);
- a power outage of its AZ kills it, and restoring the AZ brings it back with its data;
- after ``down`` and ``up`` the data is still there (the registered models, before MLflow
  even starts), and MLflow starts on it again (its logins still open it).
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
import requests

from tests.integration.cloud import RunningCloud, wait_for
from tradai_sim.ports import free_port
from tradai_sim.stack import launcher
from tradai_sim.stack.state import pid_alive

pytestmark = [pytest.mark.integration, pytest.mark.timeout(1500)]
TIME_SCALE = 20.0
SEED_WAIT_S = 600.0  # MLflow's first start runs every migration; the machine may be busy


def _up(state: Path) -> RunningCloud:
    rec = launcher.start(state, free_port(), TIME_SCALE)
    return RunningCloud(rec.endpoint, state, None, TIME_SCALE)


def _status(cloud: RunningCloud) -> dict[str, Any]:
    # The whole control plane's status (egress probes included) took over 10 s on a machine
    # at load 30; the stack is still right, only slow to describe itself.
    return dict(requests.get(f"{cloud.endpoint}/_sim/status", timeout=120).json())


def _rds(cloud: RunningCloud) -> dict[str, Any]:
    return dict(_status(cloud)["parts"]["rds"])


def _connect(cloud: RunningCloud) -> psycopg.Connection:
    """As a client of the deployment would: endpoint from RDS, credentials from the secret."""
    found = cloud.client("rds").describe_db_instances(
        DBInstanceIdentifier=cloud.name("mlflow"))["DBInstances"][0]
    creds = json.loads(cloud.client("secretsmanager").get_secret_value(
        SecretId=cloud.name("mlflow-database"))["SecretString"])
    return psycopg.connect(host=found["Endpoint"]["Address"], port=found["Endpoint"]["Port"],
                           dbname=found["DBName"], user=creds["username"],
                           password=creds["password"], connect_timeout=5, autocommit=True)


def _seeded(cloud: RunningCloud) -> dict[str, Any]:
    def done() -> dict[str, Any] | None:
        seed = _status(cloud)["parts"].get("seed") or {}
        assert seed.get("state") != "failed", seed
        return seed if seed.get("state") == "done" else None

    return dict(wait_for(done, timeout=SEED_WAIT_S, interval=1.0))


@pytest.fixture(scope="module")
def state(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    path = tmp_path_factory.mktemp("rds-stack")
    try:
        yield path
    finally:
        launcher.stop(path)


@pytest.fixture(scope="module")
def first(state: Path) -> Iterator[RunningCloud]:
    cloud = _up(state)
    yield cloud
    launcher.stop(state)


def test_fresh_state_dir_gets_a_postgres_server_at_the_described_endpoint(
        first: RunningCloud, state: Path) -> None:
    rds = _rds(first)
    assert rds["healthy"] and rds["initialised_now"], rds
    assert rds["server_version"].startswith("16.")
    assert Path(rds["data_dir"]).is_relative_to(state)
    found = first.client("rds").describe_db_instances()["DBInstances"]
    assert [(d["DBInstanceIdentifier"], d["DBInstanceClass"], d["Engine"], d["EngineVersion"],
             d["DBInstanceStatus"], d["AvailabilityZone"]) for d in found] == [
        ("tradai-local-mlflow", "db.t4g.micro", "postgres", "15", "available", rds["az"])]
    assert found[0]["Endpoint"] == {"Address": "127.0.0.1", "Port": rds["port"]}
    assert rds["subnet"] in [s["SubnetIdentifier"] for s in found[0]["DBSubnetGroup"]["Subnets"]]
    with _connect(first) as conn:
        assert conn.execute("SELECT current_database(), current_user").fetchone() == (
            "mlflow", "mlflow")
    # tradai-sim status lists it among the stack's processes, with its health
    from tradai.topology import load_topology
    from tradai_sim.stack.state import StackRecord
    from tradai_sim.stack.status import stack_status

    rec = StackRecord.read(state)
    assert rec is not None
    for attempt in range(3):  # stack_status asks with a 10 s timeout
        try:
            procs = {p["name"]: p for p in stack_status(rec, load_topology(None))["processes"]}
            break
        except requests.Timeout:
            assert attempt < 2, "tradai-sim status timed out three times"
    assert procs["rds"]["pid"] == rds["pid"] and procs["rds"]["health"] == "healthy"
    assert procs["rds"]["az"] == rds["az"]


def test_mlflow_keeps_its_registry_there(first: RunningCloud) -> None:
    seed = _seeded(first)
    names = {m["name"] for m in seed["registered"]}
    with _connect(first) as conn:
        rows = {r[0] for r in conn.execute("SELECT name FROM registered_models")}
        users = {r[0] for r in conn.execute("SELECT username FROM users")}
    assert names and names <= rows
    assert users  # MLflow's basic-auth tables live in the same database


def test_an_outage_of_its_az_kills_it_and_the_restore_brings_it_back(
        first: RunningCloud) -> None:
    rds = _rds(first)
    with _connect(first) as conn:
        conn.execute("CREATE TABLE IF NOT EXISTS drill_marker (v text)")
        conn.execute("INSERT INTO drill_marker VALUES ('before the outage')")
    outage = first.control("/zones", {"method": "POST", "az": rds["az"], "kind": "power"})
    during = _rds(first)
    assert not during["running"] and during["state"] == "inaccessible", during
    assert during["pid"] is None
    with pytest.raises(psycopg.OperationalError):
        _connect(first)
    requests.delete(f"{first.endpoint}/_sim/zones", params={"id": outage["id"]},
                    timeout=30).raise_for_status()
    # The server accepts connections a moment before the part records it available.
    back = wait_for(lambda: (r := _rds(first))["healthy"] and r["state"] == "available" and r,
                    timeout=60)
    assert back["port"] == rds["port"]
    with _connect(first) as conn:
        assert conn.execute("SELECT v FROM drill_marker").fetchall() == [("before the outage",)]


def test_the_other_az_leaves_it_running(first: RunningCloud) -> None:
    rds = _rds(first)
    other = next(az for az in _status(first)["parts"]["zones"]["azs"] if az != rds["az"])
    outage = first.control("/zones", {"method": "POST", "az": other, "kind": "power"})
    try:
        assert _rds(first)["healthy"]
    finally:
        requests.delete(f"{first.endpoint}/_sim/zones", params={"id": outage["id"]},
                        timeout=30).raise_for_status()


def test_down_and_up_keep_the_data_and_mlflow_opens_it_again(
        first: RunningCloud, state: Path) -> None:
    before = _rds(first)
    launcher.stop(state)
    assert not pid_alive(before["pid"])  # down stopped the server too
    second = _up(state)
    try:
        rds = _rds(second)
        assert rds["healthy"] and not rds["initialised_now"], rds
        with _connect(second) as conn:  # before MLflow has started on it
            models = {r[0] for r in conn.execute("SELECT name FROM registered_models")}
        assert {"EmaCrossover", "RsiBollingerReversion"} <= models
        started = time.monotonic()
        seed = _seeded(second)
        assert {m["name"] for m in seed["registered"]} <= models, seed
        assert time.monotonic() - started < SEED_WAIT_S
        # The emulator's S3 is new: the seed put back what the kept versions point at.
        s3 = second.client("s3")
        configs = [o["Key"] for o in s3.list_objects_v2(
            Bucket=second.name("configs")).get("Contents", [])]
        artifacts = [o["Key"] for o in s3.list_objects_v2(
            Bucket=second.name("mlflow-artifacts")).get("Contents", [])]
        for name in ("EmaCrossover", "RsiBollingerReversion"):
            assert any(name in k for k in configs), configs
        assert sum(k.endswith("/strategy/config.json") for k in artifacts) >= 2, artifacts
    finally:
        launcher.stop(state)
