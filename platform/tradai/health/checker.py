"""One health check of every ECS service the topology declares: probe each through service
discovery (in parallel), record the result, publish on a transition, put a metric per service.

A service first seen failing is given the start-up grace ECS gives a new task
(``HEALTH_CHECK_GRACE_PERIOD_SECONDS``, wall seconds: it covers start-up work, so the handler
converts it to the platform clock); still failing after it, it alerts: one that never comes up
must be seen.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Protocol

from pydantic import AliasChoices, Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from tradai.health import alerts
from tradai.health.discovery import service_url
from tradai.health.probe import DEFAULT_TIMEOUT_SECONDS, ProbeResult, probe
from tradai.health.state import STARTING, HealthStateStore, ServiceState
from tradai.settings import deployed, require_alerts_topic
from tradai.topology.model import Service
from tradai.topology.naming import physical_name

log = logging.getLogger(__name__)

NAMESPACE = "TradAI/Health"
HEALTH_TABLE = "service-health"


class Now(Protocol):
    def now(self) -> float: ...


class HealthSettings(BaseSettings):
    """Locally the bootstrap names the table and topic (``TRADAI_TABLE_SERVICE_HEALTH``,
    ``TRADAI_TOPIC_ALERTS``); the Pulumi program sets ``TRADAI_ALERTS_TOPIC_ARN`` and the
    table's name follows the naming rule."""

    model_config = SettingsConfigDict(env_prefix="", extra="ignore")

    project: str = Field(default="tradai", validation_alias="TRADAI_PROJECT")
    env: str = Field(default="dev", validation_alias="TRADAI_ENV")
    health_table: str | None = Field(default=None, validation_alias="TRADAI_TABLE_SERVICE_HEALTH")
    alerts_topic: str | None = deployed(AliasChoices(
        "TRADAI_ALERTS_TOPIC_ARN", "TRADAI_TOPIC_ALERTS"))
    timeout_seconds: float = Field(default=DEFAULT_TIMEOUT_SECONDS, gt=0,
                                   validation_alias="TRADAI_HEALTH_TIMEOUT_SECONDS")

    @property
    def table(self) -> str:
        return self.health_table or physical_name(self.project, self.env, HEALTH_TABLE)

    def topic(self) -> str:
        return require_alerts_topic(
            self.alerts_topic,
            "health transitions are not recorded without a topic to announce them")


@dataclass
class HealthReport:
    checked_at: float = 0.0
    results: dict[str, dict[str, Any]] = field(default_factory=dict)
    failed: list[str] = field(default_factory=list)  # transitions to UNHEALTHY announced here
    recovered: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    @property
    def unhealthy(self) -> list[str]:
        return sorted(s for s, r in self.results.items() if not r["healthy"])


class HealthChecker:
    def __init__(self, services: list[Service], store: HealthStateStore, sns: Any,
                 topic_arn: str, cloudwatch: Any, clock: Now, project: str, env: str,
                 timeout: float = DEFAULT_TIMEOUT_SECONDS, start_grace: float = 0.0,
                 environ: Mapping[str, str] | None = None) -> None:
        self.services = services
        self.store = store
        self.sns = sns
        self.topic_arn = topic_arn
        self.cloudwatch = cloudwatch
        self.clock = clock
        self.project = project
        self.env = env
        self.timeout = timeout
        self.start_grace = start_grace
        self.environ = environ

    def check(self) -> HealthReport:
        results = self.probe_all()
        now = self.clock.now()
        report = HealthReport(checked_at=now)
        states = self.store.all()
        paths = {s.name: s.health_path for s in self.services}
        for result in results:
            report.results[result.service] = {"healthy": result.healthy, "url": result.url,
                                              "result": result.reason,
                                              "latency_ms": result.latency_ms}
            seen = states.get(result.service) or ServiceState(result.service, None, None)
            try:
                self._record(seen, result, paths[result.service], now, report)
            except Exception as exc:  # one service's failure does not hide the others
                log.exception("recording the health of %s failed", result.service)
                report.errors.append(f"{result.service}: {type(exc).__name__}: {exc}")
        self._put_metrics(results)
        return report

    def probe_all(self) -> list[ProbeResult]:
        targets = [(s.name, service_url(s, self.project, self.env, self.environ) + s.health_path)
                   for s in self.services]
        with ThreadPoolExecutor(max_workers=max(1, len(targets))) as pool:
            return list(pool.map(lambda t: probe(t[0], t[1], self.timeout), targets))

    def _record(self, seen: ServiceState, result: ProbeResult, health_path: str, now: float,
                report: HealthReport) -> None:
        made = self.store.record(seen, result, now, self.start_grace)
        if made is None:
            return
        if made == "failed":
            starting = seen.since if seen.status == STARTING else None
            subject, body = alerts.failure_alert(result, health_path, now, seen.incidents + 1,
                                                 starting)
        else:
            subject, body = alerts.recovery_notice(result, seen.since, now, seen.incidents)
        try:
            alerts.publish(self.sns, self.topic_arn, subject, body)
        except Exception:
            # Give the transition back: the next check makes it again and announces it.
            status = "UNHEALTHY" if made == "failed" else "HEALTHY"
            self.store.undo(seen, ServiceState(seen.service, status, now), now)
            raise
        (report.failed if made == "failed" else report.recovered).append(result.service)
        log.warning("service %s %s: %s", result.service, made, result.reason)

    def _put_metrics(self, results: list[ProbeResult]) -> None:
        """``ServiceHealthy`` 1 or 0 per service (dimension ``Service``), one per check."""
        self.cloudwatch.put_metric_data(Namespace=NAMESPACE, MetricData=[
            {"MetricName": "ServiceHealthy", "Dimensions": [{"Name": "Service",
                                                             "Value": r.service}],
             "Value": 1.0 if r.healthy else 0.0, "Unit": "Count"} for r in results])
