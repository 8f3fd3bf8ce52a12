"""``aws:fis:inject-api-*-error`` (ec2 only, as AWS) and the ``tradai:`` variants (any API
namespace): a rule that the request interceptor applies while the action runs."""

from __future__ import annotations

import random
from typing import Any

from tradai_sim.cloud.aws_requests.wire import UnknownService, service_wire
from tradai_sim.cloud.fis.actions.base import ActionFailed, Injection
from tradai_sim.cloud.fis.api_faults import ApiFaultRule


class InjectApiError(Injection):
    kind = "internal"

    def start(self) -> None:
        service = self.env.param("service") or ""
        try:
            service_wire(service)
        except UnknownService as exc:
            raise ActionFailed(str(exc)) from exc
        self.rule = ApiFaultRule(
            rule_id=self.env.label, kind=self.kind,
            role_arns=frozenset(r.arn for r in self.env.resources("Roles")), service=service,
            operations=frozenset(o.strip() for o in (self.env.param("operations") or "")
                                 .split(",")),
            percentage=int(self.env.param("percentage") or 100),
            rng=random.Random(f"{self.env.rng.random()}"), label=self.env.label)
        self.env.api_faults.add(self.rule)
        self.duration = self.env.seconds("duration")

    def end(self) -> None:
        self.env.api_faults.remove(self.rule.rule_id)

    def detail(self) -> dict[str, Any]:
        return {"kind": self.kind, "roles": sorted(self.rule.role_arns),
                "service": self.rule.service, "operations": sorted(self.rule.operations),
                "percentage": self.rule.percentage, "injected": self.rule.injected,
                "passed": self.rule.passed}


class InjectInternalError(InjectApiError):
    kind = "internal"


class InjectThrottleError(InjectApiError):
    kind = "throttle"


class InjectUnavailableError(InjectApiError):
    kind = "unavailable"
