"""The API errors in force: which IAM roles' calls to which operations of which service fail,
how, and how often. FIS's ``inject-api-*`` actions add a rule while they run; the request
interceptor (``interceptor.py``) consults the rules for every request it sees."""

from __future__ import annotations

import random
import threading
from dataclasses import dataclass, field


@dataclass
class ApiFaultRule:
    rule_id: str
    kind: str  # internal | throttle | unavailable
    role_arns: frozenset[str]
    service: str  # the API namespace, as SigV4 signs it: ec2, states, sqs, dynamodb
    operations: frozenset[str]
    percentage: int
    rng: random.Random
    label: str  # experiment and action, for the error message and the counters
    injected: int = 0
    passed: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def roll(self) -> bool:
        """Whether this call fails: ``percentage`` of matching calls, seeded."""
        with self._lock:
            hit = self.rng.random() * 100 < self.percentage
            if hit:
                self.injected += 1
            else:
                self.passed += 1
            return hit


class ApiFaultRules:
    def __init__(self) -> None:
        self._rules: dict[str, ApiFaultRule] = {}
        self._lock = threading.Lock()

    def add(self, rule: ApiFaultRule) -> None:
        with self._lock:
            self._rules[rule.rule_id] = rule

    def remove(self, rule_id: str) -> ApiFaultRule | None:
        with self._lock:
            return self._rules.pop(rule_id, None)

    def active(self) -> bool:
        return bool(self._rules)

    def roles(self) -> frozenset[str]:
        with self._lock:
            return frozenset(r for rule in self._rules.values() for r in rule.role_arns)

    def match(self, role_arn: str, service: str, operation: str | None) -> ApiFaultRule | None:
        """The rule that fails this call, if any (each matching rule rolls its percentage)."""
        with self._lock:
            rules = list(self._rules.values())
        for rule in rules:
            if (role_arn in rule.role_arns and service == rule.service
                    and operation in rule.operations and rule.roll()):
                return rule
        return None

    def snapshot(self) -> list[dict[str, object]]:
        with self._lock:
            rules = list(self._rules.values())
        return [{"id": r.rule_id, "kind": r.kind, "roles": sorted(r.role_arns),
                 "service": r.service, "operations": sorted(r.operations),
                 "percentage": r.percentage, "injected": r.injected, "passed": r.passed,
                 "label": r.label} for r in rules]
