"""The ALB stand-in's target groups as ELBv2 defines them (draining, thresholds from initial,
the health check matcher), their registration from ECS, and the target health the ECS
service scheduler reads."""

from __future__ import annotations

from typing import Any

import httpx

from tradai_sim.cloud.ecs.elb_health import ElbHealth, unhealthy_reason
from tradai_sim.edge.discovery import deactivating, load_balanced_services, target_group_health
from tradai_sim.edge.targets import (
    DRAINING,
    HEALTHY,
    INITIAL,
    UNHEALTHY,
    HealthSettings,
    Target,
    TargetGroup,
)


def _group(*task_ids: str) -> TargetGroup:
    g = TargetGroup("g", "/health", HealthSettings(unhealthy_threshold=3), arn="arn:tg")
    g.sync([Target(task_id=t, host="h", port=i + 1) for i, t in enumerate(task_ids)])
    for t in g.targets.values():
        t.state = HEALTHY
    return g


def test_deregistering_target_drains_and_gets_no_requests_or_checks() -> None:
    g = _group("a", "b")
    g.sync([g.targets["b"]], draining={"a"})  # a is DEACTIVATING: out of the RUNNING list
    assert g.targets["a"].state == DRAINING
    assert g.targets["a"].reason == "Target.DeregistrationInProgress"
    assert {g.pick().task_id for _ in range(4)} == {"b"}  # type: ignore[union-attr]
    assert [t.task_id for t in g.checked()] == ["b"]
    g.record_check(g.targets["a"], False, "refused")
    g.mark_down(g.targets["a"], "refused")
    assert g.targets["a"].state == DRAINING  # its health no longer matters
    g.sync([g.targets["b"]])  # its task moved on to STOPPING: deregistered
    assert list(g.targets) == ["b"]


def test_new_target_is_unhealthy_only_after_the_unhealthy_threshold() -> None:
    g = TargetGroup("g", "/health", HealthSettings(unhealthy_threshold=3))
    g.sync([Target(task_id="t", host="h", port=1)])
    t = g.targets["t"]
    for state in (INITIAL, INITIAL, UNHEALTHY):
        g.record_check(t, False, "health check 500")
        assert t.state == state


def test_health_check_matcher_codes() -> None:
    assert HealthSettings(matcher="200").passes(200)
    assert not HealthSettings(matcher="200").passes(302)
    assert HealthSettings(matcher="200-299").passes(204)
    assert HealthSettings(matcher="200,302").passes(302)
    assert not HealthSettings(matcher="200,302").passes(301)


def test_status_names_the_target_group() -> None:
    [entry] = _group("a").status()
    assert entry["target_group_arn"] == "arn:tg" and entry["state"] == HEALTHY


class _Ecs:
    def __init__(self, tasks: list[dict[str, Any]], services: list[dict[str, Any]]) -> None:
        self.tasks, self.services = tasks, services

    def describe_tasks(self, cluster: str, tasks: list[str]) -> dict[str, Any]:
        return {"tasks": [t for t in self.tasks if t["taskArn"].rsplit("/", 1)[-1] in tasks]}

    def get_paginator(self, name: str) -> Any:
        services = self.services

        class Pages:
            def paginate(self, **kw: Any) -> list[dict[str, Any]]:
                return [{"serviceArns": [f"arn:svc/{s['serviceName']}" for s in services]}]
        return Pages()

    def describe_services(self, cluster: str, services: list[str]) -> dict[str, Any]:
        return {"services": [s for s in self.services if s["serviceName"] in services]}


def test_deactivating_tasks_are_found_among_the_deregistered() -> None:
    ecs = _Ecs([{"taskArn": "arn:task/c/a", "lastStatus": "DEACTIVATING"},
                {"taskArn": "arn:task/c/b", "lastStatus": "STOPPING"}], [])
    assert deactivating(ecs, "c", ["a", "b"]) == {"a"}


def test_load_balanced_services_and_their_target_group_health_checks() -> None:
    ecs = _Ecs([], [
        {"serviceName": "web", "status": "ACTIVE",
         "loadBalancers": [{"targetGroupArn": "arn:tg/web"}]},
        {"serviceName": "worker", "status": "ACTIVE", "loadBalancers": []}])
    assert load_balanced_services(ecs, "c") == {"web": ["arn:tg/web"]}

    class Elbv2:
        def describe_target_groups(self, TargetGroupArns: list[str]) -> dict[str, Any]:
            return {"TargetGroups": [{
                "TargetGroupName": "tg-web", "HealthCheckPath": "/health",
                "HealthCheckIntervalSeconds": 15, "HealthCheckTimeoutSeconds": 5,
                "HealthyThresholdCount": 2, "UnhealthyThresholdCount": 3,
                "Matcher": {"HttpCode": "200"}}]}
    name, path, settings = target_group_health(Elbv2(), ["arn:tg/web"])["arn:tg/web"]
    assert (name, path) == ("tg-web", "/health")
    assert settings == HealthSettings(interval=15, timeout=5, healthy_threshold=2,
                                      unhealthy_threshold=3, matcher="200")


def test_scheduler_reads_unhealthy_targets_and_nothing_when_the_alb_is_silent() -> None:
    views = iter([
        {"web": [{"task_id": "a", "state": "unhealthy", "target_group_arn": "arn:tg"},
                 {"task_id": "b", "state": "healthy", "target_group_arn": "arn:tg"},
                 {"task_id": "c", "state": "draining", "target_group_arn": "arn:tg"}]},
    ])

    def fetch() -> dict[str, list[dict[str, Any]]]:
        try:
            return next(views)
        except StopIteration:
            raise httpx.ConnectError("refused") from None
    health = ElbHealth(lambda: "http://alb", fetch=fetch)
    assert health.unhealthy() == {"a": "arn:tg"}
    health._at = 0.0  # the cached view has aged
    assert health.unhealthy() == {}
    assert unhealthy_reason("arn:tg") == "Task failed ELB health checks in (target-group arn:tg)"


def test_the_health_lookup_keeps_one_connection_to_the_alb() -> None:
    """Once a second for the stack's life: a client per lookup (``httpx.get``) was most of
    its CPU. Two lookups arrive on one kept-alive connection (the same client port)."""
    import json

    from tests.http_stub import json_server

    body = json.dumps({"web": [{"task_id": "a", "state": "unhealthy",
                                "target_group_arn": "arn:tg"}]}).encode()
    with json_server(lambda path: body) as alb:
        health = ElbHealth(lambda: alb.url)
        assert health.unhealthy() == {"a": "arn:tg"}
        health._at = 0.0  # the cached view has aged
        assert health.unhealthy() == {"a": "arn:tg"}
    peers = [port for _, port in alb.requests]
    assert len(peers) == 2 and peers[0] == peers[1]
