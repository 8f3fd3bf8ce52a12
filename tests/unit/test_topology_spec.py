"""The topology spec: the complete inventory, and a clear error naming any bad entry."""

from __future__ import annotations

import copy
from typing import Any

import pytest
import yaml

from tradai.topology import SpecError, default_topology
from tradai.topology.load import parse_topology
from tradai.topology.model import Topology

ARCHITECTURE_LAMBDAS = {
    # name: (memory MB, timeout s) from the architecture document's Lambda table
    "backtest-consumer": (256, 30), "sqs-consumer": (256, 30), "orphan-scanner": (128, 60),
    "health-check": (256, 60), "trading-heartbeat-check": (256, 60),
    "drift-monitor": (512, 120), "retraining-scheduler": (256, 60),
    "pulumi-drift-detector": (512, 300), "validate-strategy": (256, 30),
    "data-collection-proxy": (256, 180), "update-status": (256, 30),
    "cleanup-resources": (256, 60), "notify-completion": (128, 30),
    "check-retraining-needed": (256, 30), "compare-models": (512, 120),
    "promote-model": (256, 60), "model-rollback": (256, 60), "update-nat-routes": (128, 120),
}


@pytest.fixture()
def raw() -> dict[str, Any]:
    from importlib import resources

    return yaml.safe_load(resources.files("tradai.topology").joinpath("topology.yaml")
                          .read_text())


def test_inventory_matches_the_architecture_document() -> None:
    t: Topology = default_topology()
    assert {fn.name: (fn.memory, fn.timeout) for fn in t.lambdas} == ARCHITECTURE_LAMBDAS
    outside_vpc = {fn.name for fn in t.lambdas if not fn.in_vpc}
    assert outside_vpc == {"notify-completion", "pulumi-drift-detector"}
    assert {(s.name, s.cpu, s.memory, s.port) for s in t.services} == {
        ("backend-api", 512, 1024, 8000), ("data-collection", 256, 512, 8002),
        ("strategy-service", 512, 1024, 8003), ("mlflow", 512, 1024, 5000)}
    strategy = next(td for td in t.task_definitions if td.name == "strategy")
    assert (strategy.cpu, strategy.memory) == (1024, 2048)
    # train: the Retraining workflow's challenger (issue 12)
    assert set(strategy.modes) == {"backtest", "hyperopt", "dry-run", "live", "train"}
    assert t.network.vpc_cidr == "10.0.0.0/16"
    assert [(a.public, a.private, a.database) for a in t.network.azs] == [
        ("10.0.1.0/24", "10.0.11.0/24", "10.0.21.0/24"),
        ("10.0.2.0/24", "10.0.12.0/24", "10.0.22.0/24")]
    assert t.schedule("health-check").expression == "rate(2 minutes)"
    backtest = t.queue("backtest-queue.fifo")
    assert backtest.fifo and backtest.dlq == "backtest-dlq.fifo" and backtest.max_receive_count
    assert t.queue("retraining-queue.fifo").dlq == "retraining-dlq.fifo"
    assert t.table("workflow-state").ttl_attribute == "ttl"
    assert {m.name for m in t.state_machines} == {"backtest-workflow", "retraining-workflow"}
    assert {b.name for b in t.buckets} >= {"configs", "results", "arcticdb", "mlflow-artifacts"}
    assert len(t.secrets) == 7


def _mutated(raw: dict[str, Any], change: Any) -> dict[str, Any]:
    spec = copy.deepcopy(raw)
    change(spec)
    return spec


def _lambda(spec: dict[str, Any], name: str) -> dict[str, Any]:
    return next(fn for fn in spec["lambdas"] if fn["name"] == name)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda s: s["lambdas"].append(copy.deepcopy(s["lambdas"][0])),
         "lambdas: duplicate name 'backtest-consumer'"),
        (lambda s: _lambda(s, "backtest-consumer")["trigger"].update(queue="nope.fifo"),
         "lambdas['backtest-consumer'].trigger names unknown queue 'nope.fifo'"),
        (lambda s: s["schedules"][0].update(expression="rate(2 minute)"),
         "schedules['health-check']"),
        (lambda s: s["schedules"][0].update(expression="cron(0 12 * * *)"),
         "schedules['health-check']: 'cron(0 12 * * *)': cron needs 6 fields"),
        (lambda s: s["schedules"][0].update(expression="every 2 minutes"),
         "schedules['health-check']"),
        (lambda s: _lambda(s, "health-check").update(timeout=0),
         "lambdas['health-check'].timeout"),
        (lambda s: s["queues"][0].update(dlq="missing-dlq.fifo"),
         "queues['backtest-queue.fifo'].dlq names unknown queue 'missing-dlq.fifo'"),
        (lambda s: s["network"]["azs"][1].update(private="10.0.11.0/24"),
         "overlaps"),
        (lambda s: s["network"]["azs"].pop(),
         "exactly 2 AZs"),
        (lambda s: s["state_machines"][0].update(asl="missing.asl.json"),
         "state_machines['backtest-workflow']: ASL file 'missing.asl.json' not found"),
        (lambda s: s["services"][1].update(port=8000),
         "port 8000 is used by more than one service"),
        # Access (what permissions.check_access of the Pulumi program checked before).
        (lambda s: _lambda(s, "health-check").pop("access"),
         "lambdas['health-check']: no access; declare what it reads and writes"),
        (lambda s: s["services"][0].pop("access"), "services['backend-api']: no access"),
        (lambda s: s["task_definitions"][0]["access"].update(tables_raed=["workflow-state"]),
         "task_definitions['strategy'].access.tables_raed: Extra inputs are not permitted"),
        (lambda s: _lambda(s, "drift-monitor")["access"].update(tables_read=["nope"]),
         "lambdas['drift-monitor'].access.tables_read names 'nope', which the spec does not "
         "declare"),
        (lambda s: s["services"][0]["access"].update(invoke_lambdas=["nope-fn"]),
         "services['backend-api'].access.invoke_lambdas names 'nope-fn'"),
        (lambda s: _lambda(s, "health-check")["access"].update(metrics=["Other/NS"]),
         "lambdas['health-check'].access.metrics names 'Other/NS'"),
        (lambda s: s["task_definitions"][0]["access"].update(objects_write=["results"]),
         "task_definitions['strategy'].access.objects_write names 'results', which is not "
         "bucket/prefix/"),
        (lambda s: s["task_definitions"][0]["access"].update(objects_read=["nope/x/"]),
         "task_definitions['strategy'].access.objects_read names unknown bucket 'nope'"),
    ],
)
def test_invalid_spec_names_the_offending_entry(raw: dict[str, Any], change: Any,
                                                message: str) -> None:
    with pytest.raises(SpecError) as err:
        parse_topology(_mutated(raw, change), "topology.yaml")
    assert message in str(err.value)


def test_valid_spec_parses(raw: dict[str, Any]) -> None:
    assert parse_topology(raw).project == "tradai"
