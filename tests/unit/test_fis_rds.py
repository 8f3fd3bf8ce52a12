"""``tradai:rds:instance-down`` on a real embedded PostgreSQL server: stopped while the fault
holds (StopDBInstance), accepting connections again once it ends (StartDBInstance), and a clear
failure on a stack whose MLflow store is SQLite."""

from __future__ import annotations

from pathlib import Path

import psycopg

from tests.unit.fis_fakes import definition, harness, real, until
from tradai_sim.cloud.rds.part import MASTER_USERNAME, RdsInstance
from tradai_sim.ports import free_port

ACTION = {"actionId": "tradai:rds:instance-down", "parameters": {"duration": "PT2M"}}


def _answers(port: int) -> bool:
    try:
        with psycopg.connect(host="127.0.0.1", port=port, dbname="postgres",
                             user=MASTER_USERNAME, password="pw", connect_timeout=2):
            return True
    except psycopg.OperationalError:
        return False


def test_the_database_stops_for_the_fault_and_comes_back(tmp_path: Path) -> None:
    with harness(tmp_path, create=real) as h:
        rds = RdsInstance(h.ctx, free_port())
        rds.cluster.init(MASTER_USERNAME, "pw")
        rds.cluster.start()
        try:
            h.ctx.resources["_rds"] = rds
            assert _answers(rds.port)
            run = h.start(definition({"Down": ACTION}))
            until(lambda: run.actions["Down"].status == "running" or run.terminal)
            assert run.actions["Down"].status == "running", run.actions["Down"].reason
            assert not rds.cluster.running and rds.state == "stopped"
            assert not _answers(rds.port)
            until(lambda: run.terminal, timeout=60)
            assert run.status == "completed", run.actions["Down"].reason
            assert rds.cluster.running and rds.state == "available"
            assert _answers(rds.port)
            assert [e["event"] for e in rds.history] == ["stop", "stopped", "start",
                                                         "start-done"]
        finally:
            rds.cluster.stop()


def test_a_sqlite_stack_has_no_instance_to_stop(tmp_path: Path) -> None:
    with harness(tmp_path, create=real) as h:
        run = h.start(definition({"Down": ACTION}))
        until(lambda: run.terminal)
        assert run.status == "failed"
        assert "no RDS instance" in run.actions["Down"].reason
        assert "tradai:mlflow:database-down" in run.actions["Down"].reason
